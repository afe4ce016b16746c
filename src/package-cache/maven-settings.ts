import { MAVEN_PREFIX } from './maven.js';

/** The first line that tells a settings file aibox wrote (and may rewrite) from one the user made. */
export const MAVEN_SETTINGS_MARKER = '<!-- aibox-package-cache';

/**
 * Maven's user settings with one mirror of every repository to the sandbox's cache endpoint. The URL is read from
 * the sandbox's environment by Maven itself (settings interpolate ${env.*}), so the file never names a port and
 * stays right when the sandbox restarts on another one. Maven 3.8 reads no environment variable for mirrors
 * (MAVEN_ARGS is 3.9+, and the maven pack sets MAVEN_OPTS itself): ~/.m2/settings.xml is read with no flag.
 */
export function mavenSettingsXml(): string {
  return `${MAVEN_SETTINGS_MARKER}: written by aibox at sandbox start; Maven downloads through the host's verifying package cache.
     Edit or delete it freely: aibox rewrites only a file that still starts with this line. -->
<settings xmlns="http://maven.apache.org/SETTINGS/1.0.0">
  <mirrors>
    <mirror>
      <id>aibox-package-cache</id>
      <mirrorOf>*</mirrorOf>
      <name>aibox shared package cache</name>
      <url>\${env.AIBOX_PACKAGE_CACHE}${MAVEN_PREFIX.slice(0, -1)}</url>
    </mirror>
  </mirrors>
</settings>
`;
}

/**
 * Run inside the sandbox as its user (the home is the agent's: the daemon never writes there itself), with the
 * settings as $1: writes ~/.m2/settings.xml unless a file of the user's own is there, atomically.
 */
export const MAVEN_SETTINGS_SCRIPT = [
  'set -e',
  'd="$HOME/.m2"; f="$d/settings.xml"',
  'mkdir -p "$d"',
  `if [ -e "$f" ] || [ -L "$f" ]; then head -c 64 "$f" | grep -qF '${MAVEN_SETTINGS_MARKER}' || exit 0; fi`,
  't="$d/.settings.xml.aibox.$$"',
  'printf "%s" "$1" > "$t"',
  'mv -f "$t" "$f"',
].join('\n');
