package aws.example

import data.aws.library

import input as aws

output = {"SecurityGroupScore": library.score_for_sg}
