# Team platform: Debian and Go mirrors plus GitHub.
package aibox.team.platform.egress

import rego.v1

allow_domains := {
	"deb.debian.org",
	"security.debian.org",
	"proxy.golang.org",
	"sum.golang.org",
	"github.com",
	"codeload.github.com",
}
