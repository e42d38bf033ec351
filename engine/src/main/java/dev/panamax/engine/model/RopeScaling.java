package dev.panamax.engine.model;

import dev.panamax.gguf.PanamaxException;
import java.util.Locale;

/** Rope frequency scaling kinds (--rope-scaling). */
public enum RopeScaling {
    NONE, LINEAR, YARN;

    public static RopeScaling parse(String what, String s) {
        try {
            return valueOf(s.strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new PanamaxException(what + ": rope scaling '" + s + "' is not one of none, linear, yarn");
        }
    }
}
