// edgepack Android demo: runs .pte files built by `edgepack build --format pte` with ExecuTorch
// (executorch-android) and .ptl files with the PyTorch lite interpreter (pytorch_android_lite).
pluginManagement {
    repositories {
        google {
            content {
                includeGroupByRegex("com\\.android.*")
                includeGroupByRegex("com\\.google.*")
                includeGroupByRegex("androidx.*")
            }
        }
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral() // org.pytorch:executorch-android, org.pytorch:pytorch_android_lite, fbjni, soloader
    }
}

rootProject.name = "edgepack-android-demo"
include(":app", ":core")
