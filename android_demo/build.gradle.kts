// Top-level build file. Android Gradle Plugin 8.7.x needs Gradle 8.9+ (see
// gradle/wrapper/gradle-wrapper.properties) and JDK 17 to run.
plugins {
    id("com.android.application") version "8.7.3" apply false
}
