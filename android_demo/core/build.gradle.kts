// Plain Java library with the app's testable logic (manifest checks for .ptl and .pte, runtime
// selection, benchmark protocol with cancellation and side-by-side report, image sizing, top-k,
// latency statistics, JSON, segmentation output checks / mask overlay / legend). No Android dependencies: its tests run on any JVM, also without Gradle through
// ../run_jvm_tests.sh.
plugins {
    `java-library`
}

java {
    sourceCompatibility = JavaVersion.VERSION_11
    targetCompatibility = JavaVersion.VERSION_11
}

tasks.withType<JavaCompile>().configureEach {
    options.encoding = "UTF-8"
}

dependencies {
    testImplementation("junit:junit:4.13.2")
}

tasks.test {
    // the shared manifest fixtures of a .ptl and a .pte, written by the Python side from real
    // `edgepack build` runs
    systemProperty(
        "edgepack.fixture",
        rootProject.file("../tests/fixtures/edgepack_manifest.json").absolutePath,
    )
    systemProperty(
        "edgepack.fixture.pte",
        rootProject.file("../tests/fixtures/edgepack_manifest_pte.json").absolutePath,
    )
    // the android_demo directory: a test checks app/build.gradle.kts and README.md declare the
    // runtime versions core uses
    systemProperty("edgepack.android_demo", rootProject.projectDir.absolutePath)
}
