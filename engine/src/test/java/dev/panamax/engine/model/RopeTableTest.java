package dev.panamax.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.panamax.kernels.Ops;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * YaRN rope against fixtures/rope-yarn.json (made by tools/fixtures/make_reference_models.py from
 * ggml's rope_yarn formulas in float64, cross-checked against transformers' YaRN frequencies):
 * head 128, base 1e6, factor 4, original context 32768, beta 32/1.
 */
class RopeTableTest {
    @SuppressWarnings("unchecked")
    private static Map<String, Object> fixture() throws IOException {
        try (InputStream in = RopeTableTest.class.getResourceAsStream("/fixtures/rope-yarn.json")) {
            return JSON.std.mapFrom(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
    }

    private static final RopeConfig YARN = new RopeConfig(128, 1e6f, RopeScaling.YARN, 0.25f, 32768, 1f, 1f, 32f, 1f);

    @Test
    @SuppressWarnings("unchecked")
    void yarnAnglesMatchTheFormula() throws IOException {
        Map<String, Object> f = fixture();
        List<Number> corr = (List<Number>) f.get("corr_dims");
        double[] ours = RopeTable.correctionDims(YARN);
        assertEquals(corr.get(0).doubleValue(), ours[0]);
        assertEquals(corr.get(1).doubleValue(), ours[1]);
        RopeTable table = new RopeTable(YARN);
        assertEquals(((Number) f.get("mscale")).doubleValue(), table.mscale(), 1e-6);
        List<Number> positions = (List<Number>) f.get("positions");
        List<List<Number>> cos = (List<List<Number>>) f.get("cos_f64");
        List<List<Number>> sin = (List<List<Number>>) f.get("sin_f64");
        float[] c = new float[64];
        float[] s = new float[64];
        for (int p = 0; p < positions.size(); p++) {
            table.angles(positions.get(p).intValue(), c, s, 0);
            for (int i = 0; i < 64; i++) {
                // float32 rounding of a float64 angle: within a few ulps of the magnitude (about 1.14)
                assertEquals(cos.get(p).get(i).doubleValue(), c[i], 2e-6, "cos pos " + positions.get(p) + " pair " + i);
                assertEquals(sin.get(p).get(i).doubleValue(), s[i], 2e-6, "sin pos " + positions.get(p) + " pair " + i);
            }
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void rotatingAVectorMatchesBothLayouts() throws IOException {
        Map<String, Object> f = fixture();
        Map<String, Object> ex = (Map<String, Object>) f.get("example");
        List<Number> x = (List<Number>) ex.get("x");
        List<Number> positions = (List<Number>) f.get("positions");
        RopeTable table = new RopeTable(YARN);
        for (String layout : List.of("neox", "norm")) {
            List<List<Number>> expected = (List<List<Number>>) ex.get("rotated_" + layout);
            for (int p = 0; p < positions.size(); p++) {
                float[] v = new float[128];
                for (int i = 0; i < 128; i++) {
                    v[i] = x.get(i).floatValue();
                }
                float[] c = new float[64];
                float[] s = new float[64];
                table.angles(positions.get(p).intValue(), c, s, 0);
                Ops.rope(v, 0, 128, c, s, 0, layout.equals("neox"));
                for (int i = 0; i < 128; i++) {
                    assertEquals(expected.get(p).get(i).doubleValue(), v[i], 1e-5, layout + " pos " + positions.get(p) + " dim " + i);
                }
            }
        }
    }

    @Test
    void withoutScalingAnglesArePosTimesBasePower() {
        RopeTable t = new RopeTable(RopeConfig.plain(64, 10000f));
        float[] c = new float[32];
        float[] s = new float[32];
        t.angles(5, c, s, 0);
        for (int i = 0; i < 32; i++) {
            double theta = 5 * Math.pow(10000, -2.0 * i / 64);
            assertEquals(Math.cos(theta), c[i], 1e-6);
            assertEquals(Math.sin(theta), s[i], 1e-6);
        }
        RopeTable linear = new RopeTable(new RopeConfig(64, 10000f, RopeScaling.LINEAR, 0.5f, 2048, 0f, 1f, 32f, 1f));
        linear.angles(10, c, s, 0);
        assertEquals(Math.cos(5 * Math.pow(10000, -2.0 * 3 / 64)), c[3], 1e-6, "linear scaling halves positions");
    }
}
