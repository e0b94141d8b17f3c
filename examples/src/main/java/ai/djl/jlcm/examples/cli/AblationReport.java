package ai.djl.jlcm.examples.cli;

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
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The results of an ablation run and their three renderings: a Markdown table, a JSON document and
 * a PNG chart of test accuracy against stored bits per weight (drawn headless with XChart).
 */
final class AblationReport {

    static {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    private static final Gson GSON = new GsonBuilder().serializeNulls().setPrettyPrinting().create();
    private static final int CHART_WIDTH = 1000;
    private static final int CHART_HEIGHT = 560;
    private static final double ZOOM_POINTS = 3;

    /** One colour per line, so the same method keeps its colour from chart to chart. */
    private static final Map<String, Color> COLORS =
            Map.of(
                    AblationVariant.RTN, new Color(0x80, 0x80, 0x80),
                    AblationVariant.KMEANS_1, new Color(0xE6, 0x9F, 0x00),
                    AblationVariant.KMEANS_GROUPED, new Color(0x8C, 0x51, 0x0A),
                    "JLCM frozen", new Color(0x56, 0xB4, 0xE9),
                    "JLCM ste", new Color(0x00, 0x9E, 0x73),
                    "JLCM soft", new Color(0xCC, 0x79, 0xA7),
                    "JLCM proximal", new Color(0xD5, 0x1E, 0x1E));

    private final String dataset;
    private final double floatAccuracy;
    private final List<AblationRow> rows;
    private final Map<String, Object> settings;

    /**
     * Creates a report.
     *
     * @param dataset the data set name, for example {@code mnist}
     * @param floatAccuracy test accuracy of the float model, a fraction
     * @param rows the measured rows, in run order
     * @param settings run settings recorded in the JSON and Markdown (name to number or string)
     */
    AblationReport(String dataset, double floatAccuracy, List<AblationRow> rows, Map<String, Object> settings) {
        this.dataset = dataset;
        this.floatAccuracy = floatAccuracy;
        this.rows = List.copyOf(rows);
        this.settings = new LinkedHashMap<>(settings);
    }

    List<AblationRow> rows() {
        return rows;
    }

    /** The file written by {@link #write}: {@code ablation-<dataset>.<extension>}. */
    Path file(Path dir, String extension) {
        return dir.resolve("ablation-" + dataset + "." + extension);
    }

    /** The Markdown table, float model first. */
    String table() {
        TextTable table = new TextTable("method", "mode", "G", "mapping", "bits", "bits/weight", "accuracy %", "seconds");
        table.add("float", "-", "-", "-", 32, "32.000", fixed(100 * floatAccuracy, 2), "-");
        for (AblationRow r : rows) {
            table.add(
                    r.variant().method(),
                    orDash(r.variant().mode()),
                    r.variant().groups() == null ? "-" : r.variant().groups(),
                    orDash(r.variant().mapping()),
                    r.variant().bits(),
                    r.ok() ? fixed(r.bitsPerWeight(), 3) : "-",
                    r.ok() ? fixed(100 * r.accuracy(), 2) : "FAILED",
                    Double.isNaN(r.seconds()) ? "-" : fixed(r.seconds(), 1));
        }
        return table.toString();
    }

    /** The Markdown document: a title, the settings, the table and the failures if any. */
    String markdown() {
        StringBuilder sb = new StringBuilder();
        sb.append("# Ablation on ").append(dataset).append("\n\n");
        StringBuilder line = new StringBuilder();
        for (Map.Entry<String, Object> e : settings.entrySet()) {
            line.append(line.length() == 0 ? "" : ", ").append(e.getKey()).append(' ').append(e.getValue());
        }
        if (line.length() > 0) {
            sb.append("Settings: ").append(line).append(".\n\n");
        }
        sb.append("Accuracy and bits/weight are measured on each model directory after reloading it through ")
                .append("Criteria; seconds are the compression call alone.\n\n");
        sb.append(table());
        List<AblationRow> failed = rows.stream().filter(r -> !r.ok()).toList();
        if (!failed.isEmpty()) {
            sb.append("\nFailed rows:\n\n");
            for (AblationRow r : failed) {
                sb.append("- ").append(r.variant().describe()).append(": ").append(r.error()).append('\n');
            }
        }
        return sb.toString();
    }

    /** The JSON document: {@code dataset}, {@code float_accuracy}, the settings and {@code rows}. */
    JsonObject json() {
        JsonObject json = new JsonObject();
        json.addProperty("dataset", dataset);
        json.addProperty("float_accuracy", floatAccuracy);
        for (Map.Entry<String, Object> e : settings.entrySet()) {
            if (e.getValue() instanceof Number n) {
                json.addProperty(e.getKey(), n);
            } else {
                json.addProperty(e.getKey(), String.valueOf(e.getValue()));
            }
        }
        JsonArray array = new JsonArray();
        for (AblationRow r : rows) {
            JsonObject o = new JsonObject();
            o.addProperty("method", r.variant().method());
            o.addProperty("mode", r.variant().mode());
            o.addProperty("groups", r.variant().groups());
            o.addProperty("mapping", r.variant().mapping());
            o.addProperty("bits", r.variant().bits());
            o.addProperty("bits_per_weight", finite(r.bitsPerWeight()));
            o.addProperty("accuracy", finite(r.accuracy()));
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
     * The charts: accuracy (%) against stored bits/weight, one line each for RTN, KMEANS-1 and
     * KMEANS-GROUPED, one line per JLCM mapping through its best (mode, G) at each bit width, and
     * a dashed line at the float model's accuracy; failed rows are left out. A second chart zooms
     * on the top {@value #ZOOM_POINTS} points below the float accuracy when some row falls below.
     */
    List<XYChart> charts() {
        XYChart full = chart(null, "Ablation on " + dataset + ": test accuracy of each reloaded model vs stored bits/weight");
        double floor = Math.floor(100 * floatAccuracy - ZOOM_POINTS);
        boolean below = rows.stream().anyMatch(r -> r.ok() && 100 * r.accuracy() < floor);
        if (!below) {
            return List.of(full);
        }
        XYChart zoom = chart(floor, String.format(Locale.ROOT, "Zoom: %.0f %% and above", floor));
        return List.of(full, zoom);
    }

    private XYChart chart(Double yMin, String title) {
        XYChart chart =
                new XYChartBuilder()
                        .width(CHART_WIDTH)
                        .height(CHART_HEIGHT)
                        .title(title)
                        .xAxisTitle("stored bits per weight (indices, codebooks, scales, group ids)")
                        .yAxisTitle("test accuracy (%)")
                        .build();
        chart.getStyler()
                .setLegendPosition(Styler.LegendPosition.OutsideE)
                .setMarkerSize(9)
                .setChartBackgroundColor(Color.WHITE);
        chart.getStyler().setXAxisDecimalPattern("0.00").setYAxisDecimalPattern("0.0");

        Map<String, List<AblationRow>> lines = new LinkedHashMap<>();
        for (String baseline : List.of(AblationVariant.RTN, AblationVariant.KMEANS_1, AblationVariant.KMEANS_GROUPED)) {
            List<AblationRow> series = rows.stream().filter(r -> r.ok() && r.variant().method().equals(baseline)).toList();
            if (!series.isEmpty()) {
                Integer g = series.get(0).variant().groups();
                String name = baseline.equals(AblationVariant.KMEANS_GROUPED) && g != null ? baseline + " (G=" + g + ")" : baseline;
                lines.put(name, series);
            }
        }
        Map<String, Map<Integer, AblationRow>> best = new LinkedHashMap<>();
        for (AblationRow r : rows) {
            if (r.ok() && r.variant().method().equals(AblationVariant.JLCM)) {
                best.computeIfAbsent(r.variant().mapping(), k -> new TreeMap<>())
                        .merge(r.variant().bits(), r, (a, b) -> b.accuracy() > a.accuracy() ? b : a);
            }
        }
        for (Map.Entry<String, Map<Integer, AblationRow>> e : best.entrySet()) {
            lines.put("JLCM " + e.getKey() + " (best mode, G)", new ArrayList<>(e.getValue().values()));
        }

        double minY = 100 * floatAccuracy;
        double maxY = 100 * floatAccuracy;
        double minX = Double.POSITIVE_INFINITY;
        double maxX = Double.NEGATIVE_INFINITY;
        for (Map.Entry<String, List<AblationRow>> e : lines.entrySet()) {
            List<AblationRow> points = new ArrayList<>(e.getValue());
            points.sort(Comparator.comparingDouble(AblationRow::bitsPerWeight));
            double[] x = new double[points.size()];
            double[] y = new double[points.size()];
            for (int i = 0; i < x.length; i++) {
                x[i] = points.get(i).bitsPerWeight();
                y[i] = 100 * points.get(i).accuracy();
                minX = Math.min(minX, x[i]);
                maxX = Math.max(maxX, x[i]);
            }
            XYSeries series = chart.addSeries(e.getKey(), x, y);
            series.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
            Color color = COLORS.get(e.getKey().split(" \\(")[0]);
            if (color != null) {
                series.setLineColor(color);
                series.setMarkerColor(color);
            }
            minY = Math.min(minY, Arrays.stream(y).min().orElse(minY));
            maxY = Math.max(maxY, Arrays.stream(y).max().orElse(maxY));
        }
        if (!(minX <= maxX)) {
            minX = 0;
            maxX = 8;
        }
        double pad = Math.max(0.1, (maxX - minX) * 0.05);
        XYSeries floatLine =
                chart.addSeries(
                        String.format(Locale.ROOT, "float model (%.2f %%, 32 bits)", 100 * floatAccuracy),
                        new double[] {minX - pad, maxX + pad},
                        new double[] {100 * floatAccuracy, 100 * floatAccuracy});
        floatLine.setMarker(SeriesMarkers.NONE).setLineStyle(SeriesLines.DASH_DASH).setLineColor(Color.BLACK);
        chart.getStyler()
                .setYAxisMin(yMin != null ? yMin : Math.max(0, Math.floor(minY - 1)))
                .setYAxisMax(Math.min(100, Math.ceil(maxY + 0.5)));
        return chart;
    }

    /** The chart as PNG bytes. */
    byte[] png() throws IOException {
        List<XYChart> charts = charts();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BitmapEncoder.saveBitmap(charts, charts.size(), 1, out, BitmapEncoder.BitmapFormat.PNG);
        return out.toByteArray();
    }

    /**
     * Writes {@code ablation-<dataset>.md}, {@code .json} and {@code .png} into a directory, each
     * first to a temporary name in the same directory, then moved into place.
     *
     * @param dir the directory, created if needed
     * @return the paths written
     * @throws IOException if a file cannot be written
     */
    Written write(Path dir) throws IOException {
        Files.createDirectories(dir);
        Written w = new Written(file(dir, "md"), file(dir, "json"), file(dir, "png"));
        writeAtomically(w.markdown(), markdown().getBytes(StandardCharsets.UTF_8));
        writeAtomically(w.json(), (GSON.toJson(json()) + "\n").getBytes(StandardCharsets.UTF_8));
        writeAtomically(w.chart(), png());
        return w;
    }

    /** The files {@link #write} wrote. */
    record Written(Path markdown, Path json, Path chart) {}

    /**
     * Writes a file through a temporary file in the same directory and a move, atomic where the
     * file system allows, so a reader never sees a half-written file.
     */
    static void writeAtomically(Path target, byte[] content) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = dir.resolve("." + target.getFileName() + "." + ProcessHandle.current().pid() + "-" + System.nanoTime() + ".tmp");
        try {
            Files.write(tmp, content, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static Double finite(double v) {
        return Double.isFinite(v) ? v : null;
    }

    private static String orDash(String s) {
        return s == null ? "-" : s;
    }

    private static String fixed(double v, int decimals) {
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }
}
