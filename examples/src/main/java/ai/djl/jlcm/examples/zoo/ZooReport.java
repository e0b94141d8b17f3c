package ai.djl.jlcm.examples.zoo;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.awt.Color;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Markdown table, JSON and PNG chart (one panel per model) of a {@code zoo} run. */
public final class ZooReport {

    static {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    private static final Gson GSON = new GsonBuilder().serializeNulls().setPrettyPrinting().create();

    private final String dataset;
    private final List<ZooRow> rows;

    /**
     * Creates a report.
     *
     * @param dataset the data set name
     * @param rows the rows in run order
     */
    public ZooReport(String dataset, List<ZooRow> rows) {
        this.dataset = dataset;
        this.rows = List.copyOf(rows);
    }

    /**
     * The Markdown table.
     *
     * @return the table
     */
    public String table() {
        StringBuilder sb = new StringBuilder();
        sb.append("| model | method | bits | bits/weight | accuracy % | float accuracy % | compression s |\n");
        sb.append("|---|---|---|---|---|---|---|\n");
        for (ZooRow r : rows) {
            sb.append("| ").append(r.model())
                    .append(" | ").append(r.method())
                    .append(" | ").append(r.bitsLabel())
                    .append(" | ").append(r.ok() ? fixed(r.bitsPerWeight(), 3) : "-")
                    .append(" | ").append(r.ok() ? fixed(100 * r.accuracy(), 2) : "FAILED")
                    .append(" | ").append(fixed(100 * r.floatAccuracy(), 2))
                    .append(" | ").append(r.ok() ? fixed(r.seconds(), 1) : "-")
                    .append(" |\n");
        }
        return sb.toString();
    }

    /**
     * The JSON document: {@code dataset} and {@code rows}.
     *
     * @return the JSON
     */
    public JsonObject json() {
        JsonObject json = new JsonObject();
        json.addProperty("dataset", dataset);
        JsonArray array = new JsonArray();
        for (ZooRow r : rows) {
            JsonObject o = new JsonObject();
            o.addProperty("model", r.model());
            o.addProperty("method", r.method());
            if (r.targetBits() == null) {
                o.addProperty("bits", r.bits());
            } else {
                o.addProperty("target_bits_per_weight", r.targetBits());
            }
            o.addProperty("bits_per_weight", finite(r.bitsPerWeight()));
            o.addProperty("accuracy", finite(r.accuracy()));
            o.addProperty("float_accuracy", finite(r.floatAccuracy()));
            o.addProperty("seconds", finite(r.seconds()));
            if (!r.ok()) {
                o.addProperty("error", r.error());
            }
            array.add(o);
        }
        json.add("rows", array);
        return json;
    }

    /**
     * One chart per model: accuracy (%) against stored bits/weight, one line per method, dashed
     * float accuracy.
     *
     * @return the charts, in model order
     */
    public List<XYChart> charts() {
        Map<String, List<ZooRow>> byModel = new LinkedHashMap<>();
        for (ZooRow r : rows) {
            byModel.computeIfAbsent(r.model(), k -> new ArrayList<>()).add(r);
        }
        List<XYChart> charts = new ArrayList<>();
        for (Map.Entry<String, List<ZooRow>> m : byModel.entrySet()) {
            XYChart chart =
                    new XYChartBuilder()
                            .width(800)
                            .height(450)
                            .title(dataset + " / " + m.getKey() + ": reloaded accuracy vs stored bits/weight")
                            .xAxisTitle("stored bits per weight")
                            .yAxisTitle("test accuracy (%)")
                            .build();
            chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideSE).setMarkerSize(8)
                    .setChartBackgroundColor(Color.WHITE);
            chart.getStyler().setXAxisDecimalPattern("0.00").setYAxisDecimalPattern("0.0");
            Map<String, List<ZooRow>> byMethod = new LinkedHashMap<>();
            double floatAcc = Double.NaN;
            double minX = Double.POSITIVE_INFINITY;
            double maxX = Double.NEGATIVE_INFINITY;
            for (ZooRow r : m.getValue()) {
                floatAcc = r.floatAccuracy();
                if (r.ok()) {
                    byMethod.computeIfAbsent(r.method(), k -> new ArrayList<>()).add(r);
                    minX = Math.min(minX, r.bitsPerWeight());
                    maxX = Math.max(maxX, r.bitsPerWeight());
                }
            }
            for (Map.Entry<String, List<ZooRow>> e : byMethod.entrySet()) {
                List<ZooRow> pts = new ArrayList<>(e.getValue());
                pts.sort(Comparator.comparingDouble(ZooRow::bitsPerWeight));
                double[] x = pts.stream().mapToDouble(ZooRow::bitsPerWeight).toArray();
                double[] y = pts.stream().mapToDouble(r -> 100 * r.accuracy()).toArray();
                chart.addSeries(e.getKey(), x, y).setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
            }
            if (!(minX <= maxX)) {
                minX = 0;
                maxX = 8;
            }
            if (Double.isFinite(floatAcc)) {
                XYSeries f =
                        chart.addSeries(
                                String.format(Locale.ROOT, "float (%.2f %%)", 100 * floatAcc),
                                new double[] {minX - 0.1, maxX + 0.1},
                                new double[] {100 * floatAcc, 100 * floatAcc});
                f.setMarker(SeriesMarkers.NONE).setLineStyle(SeriesLines.DASH_DASH).setLineColor(Color.BLACK);
            }
            charts.add(chart);
        }
        return charts;
    }

    /**
     * Writes {@code zoo-<dataset>.md}, {@code .json} and {@code .png} into a directory.
     *
     * @param dir the directory
     * @return the Markdown path
     * @throws IOException if writing fails
     */
    public Path write(Path dir) throws IOException {
        Files.createDirectories(dir);
        Path md = dir.resolve("zoo-" + dataset + ".md");
        Files.writeString(md, "# Model zoo on " + dataset + "\n\n"
                + "Accuracy and bits/weight measured on each model directory after reloading it through Criteria.\n\n"
                + table(), StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("zoo-" + dataset + ".json"), GSON.toJson(json()) + "\n", StandardCharsets.UTF_8);
        List<XYChart> charts = charts();
        if (!charts.isEmpty()) {
            BitmapEncoder.saveBitmap(
                    charts, charts.size(), 1, dir.resolve("zoo-" + dataset + ".png").toString(), BitmapEncoder.BitmapFormat.PNG);
        }
        return md;
    }

    private static Double finite(double v) {
        return Double.isFinite(v) ? v : null;
    }

    private static String fixed(double v, int decimals) {
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }
}
