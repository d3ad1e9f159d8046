plugins {
    id("com.android.application")
}

// The two runtimes. core/.../RuntimeVersions.java holds the same strings (a JVM test checks that
// they agree, and that README.md names them).
//
// executorch-android 1.3.1 is the Android release built from the same ExecuTorch tag (v1.3.1) as
// the pip package executorch 1.3.1 (built for torch 2.12) that edgepack writes .pte files with.
// ExecuTorch promises that a runtime loads .pte files of its own and of the previous minor release,
// nothing for newer files: when edgepack moves to a newer ExecuTorch, move this with it.
val executorchAndroidVersion = "1.3.1"
// The last Android release of PyTorch's lite interpreter (the code of torch 2.1.0). Its native
// libraries are aligned for 4 KB memory pages only: see README.md, "16 KB memory pages".
val pytorchAndroidLiteVersion = "2.1.0"

android {
    namespace = "dev.edgepack.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "dev.edgepack.demo"
        minSdk = 24
        targetSdk = 35
        versionCode = 2
        versionName = "0.2.0"
    }

    buildFeatures {
        buildConfig = true
    }

    // One build variant per set of runtimes (README.md, "Build variants"):
    //   both: ExecuTorch (model.pte) and PyTorch Lite (model.ptl), switchable, benchmarked side by
    //         side; not 16 KB-page ready (the lite runtime's libraries)
    //   pte:  ExecuTorch only; the lite runtime is left out entirely, so the APK holds only 16 KB
    //         page-aligned native libraries (check with README.md's steps)
    //   ptl:  PyTorch Lite only (the demo as it was; 4 KB-page devices, also armeabi-v7a)
    flavorDimensions += "runtime"
    productFlavors {
        create("both") {
            dimension = "runtime"
            isDefault = true
            // ExecuTorch's release AAR builds its native library for API 26
            // (scripts/build_android_library.sh: -DANDROID_PLATFORM=android-26)
            minSdk = 26
            buildConfigField("String", "RUNTIMES", "\"pte,ptl\"")
            // executorch-android ships arm64-v8a and x86_64 only
            ndk { abiFilters += listOf("arm64-v8a", "x86_64") }
        }
        create("pte") {
            dimension = "runtime"
            applicationIdSuffix = ".pte"
            versionNameSuffix = "-pte"
            minSdk = 26
            buildConfigField("String", "RUNTIMES", "\"pte\"")
            ndk { abiFilters += listOf("arm64-v8a", "x86_64") }
        }
        create("ptl") {
            dimension = "runtime"
            applicationIdSuffix = ".ptl"
            versionNameSuffix = "-ptl"
            buildConfigField("String", "RUNTIMES", "\"ptl\"")
            // pytorch_android_lite also ships x86; phones are arm64 (some old ones armv7),
            // emulators x86_64
            ndk { abiFilters += listOf("arm64-v8a", "armeabi-v7a", "x86_64") }
        }
    }

    sourceSets {
        // each runtime's code compiles only into the variants that have its library
        getByName("both") { java.srcDirs("src/executorch/java", "src/lite/java") }
        getByName("pte") { java.srcDir("src/executorch/java") }
        getByName("ptl") { java.srcDir("src/lite/java") }
    }

    buildTypes {
        release {
            isMinifyEnabled = false
            proguardFiles(
                getDefaultProguardFile("proguard-android-optimize.txt"),
                "proguard-rules.pro",
            )
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_11
        targetCompatibility = JavaVersion.VERSION_11
    }

    packaging {
        jniLibs {
            // Matters for "both" only (no effect on the one-runtime variants): pytorch_android_lite
            // and fbjni 0.7.0 (executorch-android's dependency) both ship libfbjni.so and
            // libc++_shared.so, and an APK holds one file per name and ABI. Which copy is kept is
            // not specified; libexecutorch.so is linked against fbjni 0.7.0's. Untested on a
            // device: see README.md, "Known limits".
            pickFirsts += listOf("**/libfbjni.so", "**/libc++_shared.so")
            // useLegacyPackaging stays false (the default for minSdk >= 23): .so files are stored
            // uncompressed and, with AGP 8.5.1+, 16 KB-aligned in the APK
        }
    }

    androidResources {
        // keep the models stored uncompressed in the APK: faster first-run copy to files/
        noCompress += listOf("ptl", "pte")
    }
}

dependencies {
    implementation(project(":core"))

    // ExecuTorch (org.pytorch:executorch-android:$executorchAndroidVersion, Maven Central; pulls in
    // com.facebook.fbjni:fbjni:0.7.0 and com.facebook.soloader:nativeloader:0.10.5)
    "bothImplementation"("org.pytorch:executorch-android:$executorchAndroidVersion")
    "pteImplementation"("org.pytorch:executorch-android:$executorchAndroidVersion")

    // PyTorch Lite (org.pytorch:pytorch_android_lite:$pytorchAndroidLiteVersion; pulls in
    // com.facebook.fbjni:fbjni-java-only:0.2.2 and nativeloader)
    "bothImplementation"("org.pytorch:pytorch_android_lite:$pytorchAndroidLiteVersion") {
        // fbjni's Java classes already come with executorch-android's fbjni 0.7.0: the java-only
        // 0.2.2 artifact holds the same classes and would fail the duplicate-class check
        exclude(group = "com.facebook.fbjni", module = "fbjni-java-only")
    }
    "ptlImplementation"("org.pytorch:pytorch_android_lite:$pytorchAndroidLiteVersion")

    implementation("androidx.appcompat:appcompat:1.7.0")
    implementation("androidx.activity:activity:1.9.3")
    implementation("androidx.lifecycle:lifecycle-viewmodel:2.8.7")
    implementation("androidx.lifecycle:lifecycle-viewmodel-savedstate:2.8.7")
    implementation("androidx.lifecycle:lifecycle-livedata:2.8.7")
    implementation("androidx.exifinterface:exifinterface:1.3.7")
}
