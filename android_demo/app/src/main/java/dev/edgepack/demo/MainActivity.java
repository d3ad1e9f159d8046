package dev.edgepack.demo;

import android.content.ActivityNotFoundException;
import android.content.Intent;
import android.graphics.Bitmap;
import android.net.Uri;
import android.os.Bundle;
import android.text.SpannableStringBuilder;
import android.text.Spanned;
import android.text.style.ForegroundColorSpan;
import android.util.TypedValue;
import android.view.View;
import android.widget.Button;
import android.widget.ImageView;
import android.widget.LinearLayout;
import android.widget.ProgressBar;
import android.widget.RadioButton;
import android.widget.RadioGroup;
import android.widget.TextView;
import android.widget.Toast;
import androidx.activity.EdgeToEdge;
import androidx.activity.result.ActivityResultLauncher;
import androidx.activity.result.PickVisualMediaRequest;
import androidx.activity.result.contract.ActivityResultContracts;
import androidx.appcompat.app.AppCompatActivity;
import androidx.core.content.ContextCompat;
import androidx.core.content.FileProvider;
import androidx.lifecycle.ViewModelProvider;
import dev.edgepack.demo.core.ModelFormat;
import dev.edgepack.demo.core.Prediction;
import dev.edgepack.demo.core.SegmentationSummary;
import java.io.File;
import java.util.List;

/**
 * Main screen: shows the model's manifest summary and runtime, lets the user switch between the
 * ExecuTorch (.pte) and PyTorch Lite (.ptl) model when the app has both, takes a photo or picks an
 * image, and lists the top-5 classes with probabilities and the inference time (an embedding
 * model: the vector's size and the similarity of the last two images; a segmentation model: the
 * photo with the class mask over it, which a tap switches off and on, and a colour legend).
 */
public class MainActivity extends AppCompatActivity {
  private static final String STATE_PHOTO_URI = "photo_uri";
  /** Classes the segmentation legend names before "+N more". */
  private static final int LEGEND_MAX_ENTRIES = 8;

  private MainViewModel viewModel;
  private Uri pendingPhotoUri;

  private RadioGroup runtimeGroup;
  private RadioButton runtimePte;
  private RadioButton runtimePtl;
  private TextView modelInfo;
  private TextView modelMessage;
  private Button takePhoto;
  private Button pickImage;
  private ProgressBar busy;
  private ImageView image;
  private TextView status;
  private LinearLayout results;
  private TextView resultNote;
  private TextView timing;
  /** The segmentation overlay of the result on screen, if any; UI thread. */
  private Bitmap shownOverlay;
  /** True while the user tapped to see the photo without its overlay; UI thread. */
  private boolean showPhoto;

  private final ActivityResultLauncher<Uri> takePictureLauncher =
      registerForActivityResult(
          new ActivityResultContracts.TakePicture(),
          saved -> {
            if (Boolean.TRUE.equals(saved) && pendingPhotoUri != null) {
              viewModel.classify(pendingPhotoUri);
            }
          });

  private final ActivityResultLauncher<PickVisualMediaRequest> pickImageLauncher =
      registerForActivityResult(
          new ActivityResultContracts.PickVisualMedia(),
          uri -> {
            if (uri != null) {
              viewModel.classify(uri);
            }
          });

  @Override
  protected void onCreate(Bundle savedInstanceState) {
    EdgeToEdge.enable(this);
    super.onCreate(savedInstanceState);
    setContentView(R.layout.activity_main);
    SystemBars.padForSystemBars(findViewById(R.id.root));

    if (savedInstanceState != null) {
      String saved = savedInstanceState.getString(STATE_PHOTO_URI);
      pendingPhotoUri = saved == null ? null : Uri.parse(saved);
    }

    runtimeGroup = findViewById(R.id.runtime_group);
    runtimePte = findViewById(R.id.runtime_pte);
    runtimePtl = findViewById(R.id.runtime_ptl);
    modelInfo = findViewById(R.id.model_info);
    modelMessage = findViewById(R.id.model_message);
    takePhoto = findViewById(R.id.take_photo);
    pickImage = findViewById(R.id.pick_image);
    busy = findViewById(R.id.busy);
    image = findViewById(R.id.image);
    status = findViewById(R.id.status);
    results = findViewById(R.id.results);
    resultNote = findViewById(R.id.result_note);
    timing = findViewById(R.id.timing);

    takePhoto.setOnClickListener(v -> launchCamera());
    pickImage.setOnClickListener(
        v ->
            pickImageLauncher.launch(
                new PickVisualMediaRequest.Builder()
                    .setMediaType(ActivityResultContracts.PickVisualMedia.ImageOnly.INSTANCE)
                    .build()));
    image.setOnClickListener(
        v -> {
          if (shownOverlay == null) return;
          showPhoto = !showPhoto;
          MainViewModel.ResultState rs = viewModel.resultState().getValue();
          if (rs != null) showImage(rs);
        });
    findViewById(R.id.open_benchmark)
        .setOnClickListener(v -> startActivity(new Intent(this, BenchmarkActivity.class)));

    viewModel = new ViewModelProvider(this).get(MainViewModel.class);
    viewModel.modelState().observe(this, this::renderModel);
    viewModel.resultState().observe(this, this::renderResult);
  }

  @Override
  protected void onSaveInstanceState(Bundle outState) {
    super.onSaveInstanceState(outState);
    if (pendingPhotoUri != null) {
      outState.putString(STATE_PHOTO_URI, pendingPhotoUri.toString());
    }
  }

  private void launchCamera() {
    File dir = new File(getCacheDir(), "camera");
    if (!dir.isDirectory() && !dir.mkdirs()) {
      Toast.makeText(this, "Cannot create " + dir, Toast.LENGTH_LONG).show();
      return;
    }
    File photo = new File(dir, "photo.jpg");
    pendingPhotoUri = FileProvider.getUriForFile(this, getPackageName() + ".fileprovider", photo);
    try {
      takePictureLauncher.launch(pendingPhotoUri);
    } catch (ActivityNotFoundException e) {
      Toast.makeText(this, R.string.no_camera_app, Toast.LENGTH_LONG).show();
    }
  }

  private void renderRuntimeChoice(MainViewModel.ModelState s) {
    runtimeGroup.setOnCheckedChangeListener(null); // no callback for what is set here
    boolean show = s.switchable.size() > 1;
    runtimeGroup.setVisibility(show ? View.VISIBLE : View.GONE);
    if (show) {
      runtimePte.setText(getString(R.string.runtime_pte, ModelFormat.PTE.runtimeName()));
      runtimePtl.setText(getString(R.string.runtime_ptl, ModelFormat.PTL.runtimeName()));
      if (s.active == ModelFormat.PTE) runtimeGroup.check(R.id.runtime_pte);
      else if (s.active == ModelFormat.PTL) runtimeGroup.check(R.id.runtime_ptl);
      for (int i = 0; i < runtimeGroup.getChildCount(); i++) {
        runtimeGroup.getChildAt(i).setEnabled(!s.loading);
      }
    }
    runtimeGroup.setOnCheckedChangeListener(
        (group, checkedId) ->
            viewModel.switchRuntime(checkedId == R.id.runtime_ptl ? ModelFormat.PTL : ModelFormat.PTE));
  }

  private void renderModel(MainViewModel.ModelState s) {
    renderRuntimeChoice(s);
    MainViewModel.ResultState rs = viewModel.resultState().getValue();
    // the buttons stay on while the model loads: an image taken now is kept and classified once
    // the model is ready; only a model that failed to load disables them
    boolean enabled = s.error == null && (rs == null || !rs.busy);
    takePhoto.setEnabled(enabled);
    pickImage.setEnabled(enabled);
    if (s.loading) {
      modelInfo.setVisibility(View.VISIBLE);
      if (s.active != null) {
        modelInfo.setText(getString(R.string.loading_runtime, s.active.displayName, s.active.assetName()));
      } else {
        modelInfo.setText(R.string.loading_model);
      }
      modelMessage.setVisibility(View.GONE);
      status.setVisibility(View.VISIBLE);
      return;
    }
    if (s.error != null) {
      modelInfo.setText("");
      modelInfo.setVisibility(View.GONE);
      showMessage(s.error, R.color.error_text);
      status.setVisibility(View.GONE);
      return;
    }
    status.setVisibility(View.VISIBLE);
    modelInfo.setVisibility(View.VISIBLE);
    modelInfo.setText(s.summary);
    if (s.note != null) {
      showMessage(s.note, R.color.note_text);
    } else {
      modelMessage.setVisibility(View.GONE);
    }
  }

  private void showMessage(String text, int colorRes) {
    modelMessage.setText(text);
    modelMessage.setTextColor(ContextCompat.getColor(this, colorRes));
    modelMessage.setVisibility(View.VISIBLE);
  }

  private void renderResult(MainViewModel.ResultState s) {
    busy.setVisibility(s.busy || s.waiting != null ? View.VISIBLE : View.GONE);
    MainViewModel.ModelState ms = viewModel.modelState().getValue();
    boolean usable = ms == null || ms.error == null;
    takePhoto.setEnabled(usable && !s.busy);
    pickImage.setEnabled(usable && !s.busy);

    if (s.overlay != shownOverlay) {
      shownOverlay = s.overlay; // a new result: show its overlay first
      showPhoto = false;
    }
    showImage(s);

    results.removeAllViews();
    if (s.waiting != null) {
      status.setText(s.waiting);
      status.setTextColor(modelInfo.getCurrentTextColor());
    } else if (s.busy) {
      status.setText(R.string.classifying);
      status.setTextColor(modelInfo.getCurrentTextColor());
    } else if (s.error != null) {
      status.setText(s.error);
      status.setTextColor(ContextCompat.getColor(this, R.color.error_text));
    } else if (s.embedding != null) {
      status.setText("");
      TextView vector = new TextView(this);
      vector.setText(s.embedding);
      vector.setTextSize(TypedValue.COMPLEX_UNIT_SP, 16);
      results.addView(vector);
    } else if (s.segmentation != null) {
      status.setText("");
      results.addView(legendView(s.segmentation));
    } else if (s.top.isEmpty()) {
      status.setText(R.string.pick_prompt);
      status.setTextColor(modelInfo.getCurrentTextColor());
    } else {
      status.setText("");
      for (Prediction p : s.top) {
        addResultRow(p);
      }
    }
    if (!s.busy && s.note != null) {
      resultNote.setText(s.note);
      resultNote.setVisibility(View.VISIBLE);
    } else {
      resultNote.setVisibility(View.GONE);
    }
    timing.setText(s.timing == null ? "" : s.timing);
  }

  /** The preview, or a segmentation model's overlay over it unless the user tapped it away. */
  private void showImage(MainViewModel.ResultState s) {
    Bitmap shown = s.overlay != null && !showPhoto ? s.overlay : s.preview;
    if (shown != null) {
      image.setImageBitmap(shown); // at most ImageLoader.PREVIEW_MAX_SIDE px
      image.setVisibility(View.VISIBLE);
    } else if (!s.busy) {
      image.setImageDrawable(null);
      image.setVisibility(View.GONE);
    }
    image.setClickable(s.overlay != null);
  }

  /**
   * "■ person 23.4% · ■ car 5.1% · ■ background 71.5%", each square in its class's overlay colour
   * (grey for the uncoloured background); the text and order come from {@link SegmentationSummary}.
   */
  private TextView legendView(SegmentationSummary summary) {
    SpannableStringBuilder text = new SpannableStringBuilder();
    if (!summary.anyDrawn()) text.append(getString(R.string.segmentation_background_only)).append(' ');
    List<SegmentationSummary.Entry> entries = summary.getEntries();
    int shown = Math.min(LEGEND_MAX_ENTRIES, entries.size());
    for (int i = 0; i < shown; i++) {
      SegmentationSummary.Entry e = entries.get(i);
      if (i > 0) text.append(SegmentationSummary.SEPARATOR);
      int start = text.length();
      text.append("\u25A0 ");
      text.setSpan(new ForegroundColorSpan(e.rgb), start, start + 1, Spanned.SPAN_EXCLUSIVE_EXCLUSIVE);
      text.append(e.format());
    }
    if (entries.size() > shown) {
      text.append(SegmentationSummary.SEPARATOR).append(getString(R.string.legend_more, entries.size() - shown));
    }
    TextView legend = new TextView(this);
    legend.setText(text);
    legend.setTextSize(TypedValue.COMPLEX_UNIT_SP, 16);
    return legend;
  }

  private void addResultRow(Prediction p) {
    TextView label = new TextView(this);
    label.setText(p.format());
    label.setTextSize(TypedValue.COMPLEX_UNIT_SP, 16);
    results.addView(label);

    ProgressBar bar = new ProgressBar(this, null, android.R.attr.progressBarStyleHorizontal);
    bar.setMax(1000);
    float prob = Float.isNaN(p.getProbability()) ? 0f : p.getProbability();
    bar.setProgress(Math.round(Math.max(0f, Math.min(1f, prob)) * 1000));
    LinearLayout.LayoutParams lp =
        new LinearLayout.LayoutParams(
            LinearLayout.LayoutParams.MATCH_PARENT, LinearLayout.LayoutParams.WRAP_CONTENT);
    lp.bottomMargin = Math.round(6 * getResources().getDisplayMetrics().density);
    results.addView(bar, lp);
  }
}
