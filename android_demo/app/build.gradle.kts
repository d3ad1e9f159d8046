plugins {
    id("com.android.application")
}

android {
    namespace = "dev.edgepack.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "dev.edgepack.demo"
        minSdk = 24
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        ndk {
            // pytorch_android_lite also ships x86; phones are arm64 (some old ones armv7),
            // emulators x86_64.
            abiFilters += listOf("arm64-v8a", "armeabi-v7a", "x86_64")
        }
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

    androidResources {
        // keep model.ptl stored uncompressed in the APK: faster first-run copy to files/
        noCompress.add("ptl")
    }
}

dependencies {
    implementation(project(":core"))

    // The last Android release of the PyTorch lite interpreter (torch 2.1.0). Its native .so
    // files are not 16 KB page aligned: see README.md, "Known limits".
    implementation("org.pytorch:pytorch_android_lite:2.1.0")

    implementation("androidx.appcompat:appcompat:1.7.0")
    implementation("androidx.activity:activity:1.9.3")
    implementation("androidx.lifecycle:lifecycle-viewmodel:2.8.7")
    implementation("androidx.lifecycle:lifecycle-livedata:2.8.7")
    implementation("androidx.exifinterface:exifinterface:1.3.7")
}
