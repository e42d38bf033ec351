package dev.panamax.engine.tokenizer;

import com.fasterxml.jackson.jr.ob.JSON;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The committed parity fixture (tools/tokenizer/hf_reference.py fixture). */
final class Fixture {
    private Fixture() {}

    record Case(String text, int[] ids, int[] idsNoSpecial, String decoded) {}

    private static List<Case> cases;

    static synchronized List<Case> cases() throws IOException {
        if (cases == null) {
            try (InputStream in = Fixture.class.getResourceAsStream("qwen-parity.json")) {
                Map<String, Object> doc = JSON.std.mapFrom(in);
                List<Case> out = new ArrayList<>();
                for (Object o : (List<?>) doc.get("cases")) {
                    Map<?, ?> c = (Map<?, ?>) o;
                    out.add(new Case((String) c.get("text"), ints(c.get("ids")), ints(c.get("ids_nospecial")),
                            (String) c.get("decoded")));
                }
                cases = List.copyOf(out);
            }
        }
        return cases;
    }

    static int[] ints(Object list) {
        List<?> l = (List<?>) list;
        int[] out = new int[l.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ((Number) l.get(i)).intValue();
        }
        return out;
    }

    static List<String> texts() throws IOException {
        return cases().stream().map(Case::text).toList();
    }
}
