package dev.edgepack.demo;

import android.content.Intent;
import android.os.Bundle;
import android.view.View;
import android.widget.Button;
import android.widget.EditText;
import android.widget.ProgressBar;
import android.widget.TextView;
import android.widget.Toast;
import androidx.activity.EdgeToEdge;
import androidx.appcompat.app.AppCompatActivity;
import androidx.core.content.ContextCompat;
import androidx.lifecycle.ViewModelProvider;
import dev.edgepack.demo.core.TestImage;

/**
 * Benchmark screen: N warm-up and M timed runs on a fixed synthetic image; shows load time, first
 * inference, p50/p90/p99, mean, min, and shares the result as JSON with the field names of
 * {@code edgepack bench --json}.
 *
 * <p>Intent extras (all optional), e.g. from adb: {@code warmup}, {@code runs}, {@code threads},
 * {@code width}, {@code height} (ints) and {@code autostart} (boolean).
 */
public class BenchmarkActivity extends AppCompatActivity {
  static final int DEFAULT_WARMUP = 10;
  static final int DEFAULT_RUNS = 50;

  private BenchmarkViewModel viewModel;
  private EditText warmup;
  private EditText runs;
  private EditText threads;
  private EditText width;
  private EditText height;
  private Button run;
  private Button share;
  private ProgressBar progress;
  private TextView status;
  private TextView result;
  private String json;

  @Override
  protected void onCreate(Bundle savedInstanceState) {
    EdgeToEdge.enable(this);
    super.onCreate(savedInstanceState);
    setContentView(R.layout.activity_benchmark);
    SystemBars.padForSystemBars(findViewById(R.id.root));

    warmup = findViewById(R.id.warmup);
    runs = findViewById(R.id.runs);
    threads = findViewById(R.id.threads);
    width = findViewById(R.id.width);
    height = findViewById(R.id.height);
    run = findViewById(R.id.run);
    share = findViewById(R.id.share);
    progress = findViewById(R.id.progress);
    status = findViewById(R.id.status);
    result = findViewById(R.id.result);

    Intent intent = getIntent();
    if (savedInstanceState == null) {
      warmup.setText(String.valueOf(intent.getIntExtra("warmup", DEFAULT_WARMUP)));
      runs.setText(String.valueOf(intent.getIntExtra("runs", DEFAULT_RUNS)));
      threads.setText(String.valueOf(intent.getIntExtra("threads", Settings.threads(this))));
      width.setText(String.valueOf(intent.getIntExtra("width", TestImage.DEFAULT_WIDTH)));
      height.setText(String.valueOf(intent.getIntExtra("height", TestImage.DEFAULT_HEIGHT)));
    }

    run.setOnClickListener(v -> start());
    share.setOnClickListener(v -> shareJson());

    viewModel = new ViewModelProvider(this).get(BenchmarkViewModel.class);
    viewModel.state().observe(this, this::render);

    if (savedInstanceState == null && intent.getBooleanExtra("autostart", false)) {
      start();
    }
  }

  private static int parse(EditText field, int min, int max) {
    try {
      int v = Integer.parseInt(field.getText().toString().trim());
      return v < min || v > max ? -1 : v;
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private void start() {
    int w = parse(warmup, 0, 100_000);
    int r = parse(runs, 1, 100_000);
    int t = parse(threads, 1, Settings.MAX_THREADS);
    int wd = parse(width, 16, 4096);
    int ht = parse(height, 16, 4096);
    if (w < 0 || r < 0 || t < 0 || wd < 0 || ht < 0) {
      Toast.makeText(this, R.string.invalid_number, Toast.LENGTH_LONG).show();
      return;
    }
    Settings.setThreads(this, t);
    viewModel.start(new BenchmarkViewModel.Config(w, r, t, wd, ht));
  }

  private void render(BenchmarkViewModel.State s) {
    run.setEnabled(!s.running);
    progress.setVisibility(s.running ? View.VISIBLE : View.GONE);
    progress.setProgress(s.progress);
    json = s.json;
    share.setEnabled(json != null);
    if (s.error != null) {
      status.setText(s.error);
      status.setTextColor(ContextCompat.getColor(this, R.color.error_text));
      status.setVisibility(View.VISIBLE);
    } else if (s.status != null) {
      status.setText(s.status);
      status.setTextColor(result.getCurrentTextColor());
      status.setVisibility(View.VISIBLE);
    } else {
      status.setVisibility(View.GONE);
    }
    if (s.resultText != null) {
      result.setText(s.resultText + "\n\n" + s.json);
      result.setVisibility(View.VISIBLE);
    } else if (s.running) {
      result.setVisibility(View.GONE);
    }
  }

  private void shareJson() {
    if (json == null) return;
    Intent send = new Intent(Intent.ACTION_SEND);
    send.setType("text/plain");
    send.putExtra(Intent.EXTRA_SUBJECT, getString(R.string.share_subject));
    send.putExtra(Intent.EXTRA_TEXT, json);
    startActivity(Intent.createChooser(send, getString(R.string.share_chooser)));
  }
}
