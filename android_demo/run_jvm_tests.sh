#!/usr/bin/env bash
# Compiles the demo app's plain-Java core module and its JUnit 4 tests with javac and runs them on
# the JVM — no Android SDK, Gradle or network needed. Exit status: 0 when all tests pass.
#
#   android_demo/run_jvm_tests.sh            # from anywhere
#
# Needs a JDK (javac, 11 or newer) and JUnit 4 + Hamcrest from Debian's `junit4` package
# (/usr/share/java/junit4.jar, /usr/share/java/hamcrest-core.jar). When they are missing and the
# script runs as root it installs them with apt-get; otherwise it stops with a message.
# Overrides: JUNIT_JAR, HAMCREST_JAR (jar paths), EDGEPACK_FIXTURE and EDGEPACK_FIXTURE_PTE (the
# manifest fixtures of a .ptl and of a .pte).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
fixture="${EDGEPACK_FIXTURE:-$repo/tests/fixtures/edgepack_manifest.json}"
fixture_pte="${EDGEPACK_FIXTURE_PTE:-$repo/tests/fixtures/edgepack_manifest_pte.json}"
junit_jar="${JUNIT_JAR:-/usr/share/java/junit4.jar}"
hamcrest_jar="${HAMCREST_JAR:-/usr/share/java/hamcrest-core.jar}"

die() { echo "run_jvm_tests.sh: $*" >&2; exit 2; }

apt_install() {
  # apt_install PACKAGE...: install as root, refreshing the package lists once if needed
  if [ "$(id -u)" != 0 ]; then
    return 1
  fi
  command -v apt-get >/dev/null 2>&1 || return 1
  echo "run_jvm_tests.sh: installing $* with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "$@" >&2 \
    || { apt-get update >&2 && apt-get install -y --no-install-recommends "$@" >&2; }
}

if ! command -v javac >/dev/null 2>&1; then
  apt_install default-jdk-headless \
    || die "javac not found. Install a JDK (11+), e.g. as root: apt-get install -y default-jdk-headless"
fi
if [ ! -f "$junit_jar" ] || [ ! -f "$hamcrest_jar" ]; then
  if [ -z "${JUNIT_JAR:-}${HAMCREST_JAR:-}" ]; then
    apt_install junit4 \
      || die "JUnit 4 not found at $junit_jar / $hamcrest_jar. Install it as root: apt-get install -y junit4 (or set JUNIT_JAR and HAMCREST_JAR)"
  fi
  [ -f "$junit_jar" ] || die "JUnit 4 jar not found: $junit_jar"
  [ -f "$hamcrest_jar" ] || die "Hamcrest jar not found: $hamcrest_jar"
fi
[ -f "$fixture" ] || die "manifest fixture not found: $fixture"
[ -f "$fixture_pte" ] || die ".pte manifest fixture not found: $fixture_pte"

# The core targets Java 11 (what the Android build uses); --release needs JDK 9+.
release_flag=()
if javac --help 2>&1 | grep -q -- '--release'; then
  release_flag=(--release 11)
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/edgepack-jvm-tests.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/main" "$work/test"

main_src="$here/core/src/main/java"
test_src="$here/core/src/test/java"
find "$main_src" -name '*.java' | sort > "$work/main-sources.txt"
find "$test_src" -name '*.java' | sort > "$work/test-sources.txt"
[ -s "$work/main-sources.txt" ] || die "no sources under $main_src"
[ -s "$work/test-sources.txt" ] || die "no tests under $test_src"

cp="$junit_jar:$hamcrest_jar"
echo "== compiling core ($(wc -l < "$work/main-sources.txt") files) and tests ($(wc -l < "$work/test-sources.txt") files)"
javac "${release_flag[@]}" -encoding UTF-8 -Xlint:unchecked,deprecation \
  -d "$work/main" @"$work/main-sources.txt"
javac "${release_flag[@]}" -encoding UTF-8 -Xlint:unchecked,deprecation \
  -cp "$work/main:$cp" -d "$work/test" @"$work/test-sources.txt"

# Test classes: files named *Test.java, as fully qualified class names.
classes=()
while IFS= read -r f; do
  rel="${f#"$test_src"/}"
  classes+=("$(echo "${rel%.java}" | tr / .)")
done < <(grep -E 'Test\.java$' "$work/test-sources.txt")
[ "${#classes[@]}" -gt 0 ] || die "no *Test.java classes found"

echo "== running ${#classes[@]} test classes (fixtures: $fixture, $fixture_pte)"
java -Xmx256m -Dedgepack.fixture="$fixture" -Dedgepack.fixture.pte="$fixture_pte" \
  -Dedgepack.android_demo="$here" -Duser.language=en \
  -cp "$work/main:$work/test:$cp" org.junit.runner.JUnitCore "${classes[@]}"
