package dev.edgepack.demo;

import android.view.View;
import androidx.core.graphics.Insets;
import androidx.core.view.ViewCompat;
import androidx.core.view.WindowInsetsCompat;

/** Edge-to-edge helper: pads a root view by the system bar and cutout insets. */
final class SystemBars {
  private SystemBars() {}

  static void padForSystemBars(View root) {
    final int left = root.getPaddingLeft();
    final int top = root.getPaddingTop();
    final int right = root.getPaddingRight();
    final int bottom = root.getPaddingBottom();
    ViewCompat.setOnApplyWindowInsetsListener(
        root,
        (v, insets) -> {
          Insets bars =
              insets.getInsets(
                  WindowInsetsCompat.Type.systemBars() | WindowInsetsCompat.Type.displayCutout());
          v.setPadding(left + bars.left, top + bars.top, right + bars.right, bottom + bars.bottom);
          return insets;
        });
  }
}
