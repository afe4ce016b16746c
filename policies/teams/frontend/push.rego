# Team frontend: the published site branch is built by CI only.
package aibox.team.frontend.push

import rego.v1

decision := "deny" if input.branch == "gh-pages"
