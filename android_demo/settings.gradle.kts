// edgepack Android demo: runs a .ptl built by `edgepack build` with pytorch_android_lite 2.1.0.
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
        mavenCentral() // org.pytorch:pytorch_android_lite and its fbjni/soloader dependencies
    }
}

rootProject.name = "edgepack-android-demo"
include(":app", ":core")
