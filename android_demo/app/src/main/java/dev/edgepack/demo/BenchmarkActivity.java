package dev.edgepack.demo;

import android.content.Intent;
import android.os.Bundle;
import android.view.View;
import android.widget.Button;
import android.widget.EditText;
import android.widget.ProgressBar;
import android.widget.RadioButton;
import android.widget.RadioGroup;
import android.widget.TextView;
import android.widget.Toast;
import androidx.activity.EdgeToEdge;
import androidx.appcompat.app.AppCompatActivity;
import androidx.core.content.ContextCompat;
import androidx.lifecycle.ViewModelProvider;
import dev.edgepack.demo.core.ModelFormat;
import dev.edgepack.demo.core.TestImage;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Benchmark screen: N warm-up and M timed runs on a fixed synthetic image, for the ExecuTorch
 * model, the PyTorch Lite model, or both one after the other with the same protocol; shows load
 * time, first inference, p50/p90/p99, mean, min side by side, and shares the result as JSON with
 * the field names of {@code edgepack bench --json} plus {@code runtime}.
 *
 * <p>Intent extras (all optional), e.g. from adb: {@code warmup}, {@code runs}, {@code threads},
 * {@code width}, {@code height} (ints), {@code runtime} ("pte", "ptl" or "both") and {@code
 * autostart} (boolean).
 */
public class BenchmarkActivity extends AppCompatActivity {
  static final int DEFAULT_WARMUP = 10;
  static final int DEFAULT_RUNS = 50;
  private static final String STATE_AUTOSTART_DONE = "autostart_done";

  private BenchmarkViewModel viewModel;
  private RadioGroup runtimeGroup;
  private RadioButton runtimePte;
  private RadioButton runtimePtl;
  private RadioButton runtimeBoth;
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
  private boolean autostartDone;
  private boolean optionsApplied;

  @Override
  protected void onCreate(Bundle savedInstanceState) {
    EdgeToEdge.enable(this);
    super.onCreate(savedInstanceState);
    setContentView(R.layout.activity_benchmark);
    SystemBars.padForSystemBars(findViewById(R.id.root));

    runtimeGroup = findViewById(R.id.bench_runtime_group);
    runtimePte = findViewById(R.id.bench_runtime_pte);
    runtimePtl = findViewById(R.id.bench_runtime_ptl);
    runtimeBoth = findViewById(R.id.bench_runtime_both);
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

    runtimePte.setText(getString(R.string.runtime_pte, ModelFormat.PTE.runtimeName()));
    runtimePtl.setText(getString(R.string.runtime_ptl, ModelFormat.PTL.runtimeName()));

    Intent intent = getIntent();
    autostartDone = savedInstanceState != null && savedInstanceState.getBoolean(STATE_AUTOSTART_DONE);
    if (savedInstanceState == null) {
      warmup.setText(String.valueOf(intent.getIntExtra("warmup", DEFAULT_WARMUP)));
      runs.setText(String.valueOf(intent.getIntExtra("runs", DEFAULT_RUNS)));
      if (intent.hasExtra("threads")) {
        threads.setText(String.valueOf(intent.getIntExtra("threads", Settings.DEFAULT_THREADS)));
      } // else: the stored setting, once read off the UI thread (renderOptions)
      width.setText(String.valueOf(intent.getIntExtra("width", TestImage.DEFAULT_WIDTH)));
      height.setText(String.valueOf(intent.getIntExtra("height", TestImage.DEFAULT_HEIGHT)));
    } else {
      optionsApplied = true; // the fields and choice were restored with the view state
    }

    run.setOnClickListener(
        v -> {
          if (viewModel.isRunning()) viewModel.stop();
          else start();
        });
    share.setOnClickListener(v -> shareJson());

    viewModel = new ViewModelProvider(this).get(BenchmarkViewModel.class);
    viewModel.state().observe(this, this::render);
    viewModel.options().observe(this, this::renderOptions);
  }

  @Override
  protected void onSaveInstanceState(Bundle outState) {
    super.onSaveInstanceState(outState);
    outState.putBoolean(STATE_AUTOSTART_DONE, autostartDone);
  }

  private void renderOptions(BenchmarkViewModel.Options o) {
    boolean hasPte = o.usable.contains(ModelFormat.PTE);
    boolean hasPtl = o.usable.contains(ModelFormat.PTL);
    runtimePte.setVisibility(hasPte ? View.VISIBLE : View.GONE);
    runtimePtl.setVisibility(hasPtl ? View.VISIBLE : View.GONE);
    runtimeBoth.setVisibility(hasPte && hasPtl ? View.VISIBLE : View.GONE);
    runtimeGroup.setVisibility(o.usable.isEmpty() ? View.GONE : View.VISIBLE);
    if (o.problem != null && !viewModel.isRunning()) {
      status.setText(o.problem);
      status.setTextColor(ContextCompat.getColor(this, R.color.error_text));
      status.setVisibility(View.VISIBLE);
    }
    if (!optionsApplied) {
      optionsApplied = true;
      if (threads.getText().length() == 0) threads.setText(String.valueOf(o.threads));
      String wanted = getIntent().getStringExtra("runtime");
      if ("ptl".equals(wanted) && hasPtl) runtimeGroup.check(R.id.bench_runtime_ptl);
      else if ("pte".equals(wanted) && hasPte) runtimeGroup.check(R.id.bench_runtime_pte);
      else if (hasPte && hasPtl) runtimeGroup.check(R.id.bench_runtime_both); // side by side
      else if (hasPte) runtimeGroup.check(R.id.bench_runtime_pte);
      else if (hasPtl) runtimeGroup.check(R.id.bench_runtime_ptl);
    }
    if (!autostartDone && getIntent().getBooleanExtra("autostart", false)) {
      autostartDone = true;
      start();
    }
  }

  private List<ModelFormat> chosenRuntimes() {
    BenchmarkViewModel.Options o = viewModel.options().getValue();
    if (o == null) return Collections.emptyList();
    int id = runtimeGroup.getCheckedRadioButtonId();
    List<ModelFormat> out = new ArrayList<>();
    if (id == R.id.bench_runtime_both) {
      out.addAll(o.usable); // ExecuTorch first, then PyTorch Lite
    } else if (id == R.id.bench_runtime_pte && o.usable.contains(ModelFormat.PTE)) {
      out.add(ModelFormat.PTE);
    } else if (id == R.id.bench_runtime_ptl && o.usable.contains(ModelFormat.PTL)) {
      out.add(ModelFormat.PTL);
    }
    return out;
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
    List<ModelFormat> runtimes = chosenRuntimes();
    if (runtimes.isEmpty()) {
      Toast.makeText(this, R.string.no_runtime_chosen, Toast.LENGTH_LONG).show();
      return;
    }
    int w = parse(warmup, 0, 100_000);
    int r = parse(runs, 1, 100_000);
    int t = parse(threads, 1, Settings.MAX_THREADS);
    int wd = parse(width, 16, 4096);
    int ht = parse(height, 16, 4096);
    if (w < 0 || r < 0 || t < 0 || wd < 0 || ht < 0) {
      Toast.makeText(this, R.string.invalid_number, Toast.LENGTH_LONG).show();
      return;
    }
    viewModel.start(new BenchmarkViewModel.Config(w, r, t, wd, ht, runtimes)); // saves threads off the UI thread
  }

  private void render(BenchmarkViewModel.State s) {
    run.setText(s.running ? R.string.stop_benchmark : R.string.run_benchmark);
    for (int i = 0; i < runtimeGroup.getChildCount(); i++) {
      runtimeGroup.getChildAt(i).setEnabled(!s.running);
    }
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
