package dev.panamax.engine.tokenizer;

import dev.panamax.gguf.Metadata;
import java.io.ByteArrayOutputStream;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Byte-level BPE ({@code tokenizer.ggml.model = "gpt2"}): GPT-2, Qwen2, DeepSeek-R1-Distill-Qwen,
 * Llama 3 and their relatives. Merges are ranked in a primitive pair table; each word is merged
 * lowest rank first (leftmost on ties, as Hugging Face does) and memoized in a bounded cache.
 */
public final class BpeTokenizer implements Tokenizer {
    /** Words up to this many bytes merge with a linear scan; longer ones with a heap (n log n). */
    static final int SMALL_WORD = 48;
    private static final int CACHE_CAPACITY = 1 << 16;
    private static final int MAX_CACHED_WORD = 64;

    /** Texts llama.cpp also treats as end of generation, whatever the file's EOS says. */
    private static final Set<String> EOG_TEXTS = Set.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
            "<|endoftext|>", "<|eom_id|>", "<EOT>", "<|end_of_text|>", "<\uFF5Cend\u2581of\u2581sentence\uFF5C>");

    /** Lazily filled token bytes are published with release/acquire: safe across threads. */
    private static final VarHandle BYTES = MethodHandles.arrayElementVarHandle(byte[][].class);

    private record Special(String text, int id, boolean control) {}

    private final String source;
    private final String[] pieces;
    private final TokenType[] types;
    private final StringIds ids;
    private final PairRanks merges;
    private final int[] byteTokens = new int[256];
    private final PreTokenizer.Resolution pre;
    private final Optional<String> preName;
    private final boolean nfc;
    /** Added tokens by first char, longest first. */
    private final Map<Character, Special[]> specials = new HashMap<>();
    private final BitSet specialFirstChars = new BitSet();
    private final OptionalInt bos;
    private final OptionalInt eos;
    private final OptionalInt eot;
    private final OptionalInt pad;
    private final OptionalInt unk;
    private final boolean addBos;
    private final boolean addEos;
    private final BitSet eog = new BitSet();
    private final Optional<String> chatTemplate;
    private final byte[][] bytes;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    private BpeTokenizer(Metadata md) {
        source = md.source();
        List<String> tokenList = md.getStringArray(TokenizerKeys.TOKENS);
        int n = tokenList.size();
        if (n == 0) {
            throw error(TokenizerKeys.TOKENS + " is empty");
        }
        pieces = tokenList.toArray(new String[0]);
        types = new TokenType[n];
        Optional<int[]> typeCodes = md.optIntArray(TokenizerKeys.TOKEN_TYPE);
        if (typeCodes.isPresent()) {
            int[] codes = typeCodes.get();
            if (codes.length != n) {
                throw error(TokenizerKeys.TOKEN_TYPE + " has " + codes.length + " entries but " + TokenizerKeys.TOKENS
                        + " has " + n);
            }
            for (int i = 0; i < n; i++) {
                types[i] = TokenType.ofCode(codes[i]);
                if (types[i] == null) {
                    throw error(TokenizerKeys.TOKEN_TYPE + "[" + i + "] = " + codes[i]
                            + " is not a token type (expected 0..6)");
                }
            }
        } else {
            Arrays.fill(types, TokenType.NORMAL);
        }

        ids = new StringIds(n);
        for (int i = 0; i < n; i++) {
            ids.putIfAbsent(pieces[i], i);
        }
        for (int b = 0; b < 256; b++) {
            byteTokens[b] = ids.get(String.valueOf(ByteLevel.charOf(b)));
        }

        List<String> mergeList = md.getStringArray(TokenizerKeys.MERGES);
        merges = new PairRanks(mergeList.size());
        for (int r = 0; r < mergeList.size(); r++) {
            String m = mergeList.get(r);
            int sp = m.indexOf(' ', 1);
            if (sp < 0 || sp == m.length() - 1) {
                throw error(TokenizerKeys.MERGES + "[" + r + "] = '" + m
                        + "' is not two tokens separated by a space");
            }
            int ia = ids.get(m, 0, sp);
            int ib = ids.get(m, sp + 1, m.length());
            if (ia < 0 || ib < 0) {
                throw error(TokenizerKeys.MERGES + "[" + r + "] = '" + m + "' names token '"
                        + (ia < 0 ? m.substring(0, sp) : m.substring(sp + 1)) + "', which is not in "
                        + TokenizerKeys.TOKENS);
            }
            int im = ids.getWithout(m, sp);
            if (im < 0) {
                throw error(TokenizerKeys.MERGES + "[" + r + "] = '" + m + "' makes '" + m.substring(0, sp)
                        + m.substring(sp + 1) + "', which is not in " + TokenizerKeys.TOKENS);
            }
            merges.put(ia, ib, r, im);
        }

        preName = md.optString(TokenizerKeys.PRE);
        pre = PreTokenizer.resolve(preName);
        nfc = md.optString(TokenizerKeys.NORMALIZER).map(v -> switch (v.toLowerCase(Locale.ROOT)) {
            case "nfc" -> true;
            case "none", "" -> false;
            default -> throw error(TokenizerKeys.NORMALIZER + " = '" + v + "' is not supported (expected 'nfc' or 'none')");
        }).orElse(pre.impliesNfc());

        bos = optId(md, TokenizerKeys.BOS_ID);
        eos = optId(md, TokenizerKeys.EOS_ID);
        eot = optId(md, TokenizerKeys.EOT_ID);
        OptionalInt eom = optId(md, TokenizerKeys.EOM_ID);
        pad = optId(md, TokenizerKeys.PAD_ID);
        unk = optId(md, TokenizerKeys.UNK_ID);
        addBos = md.optBool(TokenizerKeys.ADD_BOS).orElse(pre.ignoreMerges()); // llama.cpp: llama3 adds BOS
        addEos = md.optBool(TokenizerKeys.ADD_EOS).orElse(false);
        if (addBos && bos.isEmpty()) {
            throw error(TokenizerKeys.ADD_BOS + " is true but " + TokenizerKeys.BOS_ID + " is not set");
        }
        chatTemplate = md.optString(TokenizerKeys.CHAT_TEMPLATE);

        eos.ifPresent(eog::set);
        eot.ifPresent(eog::set);
        eom.ifPresent(eog::set);
        Map<Character, List<Special>> byFirst = new HashMap<>();
        for (int i = 0; i < n; i++) {
            TokenType t = types[i];
            if ((t == TokenType.CONTROL || t == TokenType.USER_DEFINED) && !pieces[i].isEmpty()
                    && ids.get(pieces[i]) == i) { // first of duplicates
                byFirst.computeIfAbsent(pieces[i].charAt(0), c -> new ArrayList<>())
                        .add(new Special(pieces[i], i, t == TokenType.CONTROL));
                specialFirstChars.set(pieces[i].charAt(0));
            }
            if (EOG_TEXTS.contains(pieces[i])) {
                eog.set(i);
            }
        }
        byFirst.forEach((c, list) -> {
            list.sort(Comparator.comparingInt((Special s) -> s.text().length()).reversed());
            specials.put(c, list.toArray(new Special[0]));
        });
        bytes = new byte[n][];
    }

    static BpeTokenizer load(Metadata md) {
        return new BpeTokenizer(md);
    }

    private TokenizerException error(String what) {
        return new TokenizerException(source + ": " + what);
    }

    private OptionalInt optId(Metadata md, String key) {
        OptionalInt v = md.optInt(key);
        if (v.isPresent() && (v.getAsInt() < 0 || v.getAsInt() >= pieces.length)) {
            throw error(key + " = " + v.getAsInt() + " is outside the vocabulary of " + pieces.length + " tokens");
        }
        return v;
    }

    // ---- encoding ----

    /** Growable int array. */
    private static final class IntList {
        int[] a;
        int n;

        IntList(int capacity) {
            a = new int[Math.max(8, capacity)];
        }

        void add(int v) {
            if (n == a.length) {
                a = Arrays.copyOf(a, a.length * 2);
            }
            a[n++] = v;
        }

        void addAll(int[] v) {
            if (n + v.length > a.length) {
                a = Arrays.copyOf(a, Math.max(a.length * 2, n + v.length));
            }
            System.arraycopy(v, 0, a, n, v.length);
            n += v.length;
        }
    }

    /** Per-call state: output and a reusable byte buffer. */
    private final class Encoding implements PreTokenizer.Sink {
        final IntList out;
        byte[] buf = new byte[256];
        String text;

        Encoding(int expected) {
            out = new IntList(expected);
        }

        @Override
        public void word(int start, int end) {
            encodeWord(this, start, end);
        }
    }

    @Override
    public int[] encode(String text, boolean addBos, boolean parseSpecial) {
        Encoding e = new Encoding(text.length() / 3 + 8);
        if (addBos) {
            e.out.add(bos.orElseThrow(() -> error("cannot add BOS: " + TokenizerKeys.BOS_ID + " is not set")));
        }
        int len = text.length();
        int segment = 0;
        if (!specials.isEmpty()) {
            for (int i = 0; i < len; ) {
                char c = text.charAt(i);
                if (specialFirstChars.get(c)) {
                    Special s = matchSpecial(text, i, parseSpecial);
                    if (s != null) {
                        encodeSpan(e, text, segment, i);
                        e.out.add(s.id());
                        i += s.text().length();
                        segment = i;
                        continue;
                    }
                }
                i++;
            }
        }
        encodeSpan(e, text, segment, len);
        return Arrays.copyOf(e.out.a, e.out.n);
    }

    private Special matchSpecial(String text, int i, boolean parseSpecial) {
        for (Special s : specials.get(text.charAt(i))) {
            if ((parseSpecial || !s.control()) && text.startsWith(s.text(), i)) {
                return s;
            }
        }
        return null;
    }

    private void encodeSpan(Encoding e, String text, int from, int to) {
        if (from >= to) {
            return;
        }
        if (nfc) {
            String span = Normalizer.normalize(text.substring(from, to), Normalizer.Form.NFC);
            e.text = span;
            pre.preTokenizer().split(span, 0, span.length(), e);
        } else {
            e.text = text;
            pre.preTokenizer().split(text, from, to, e);
        }
    }

    private void encodeWord(Encoding e, int start, int end) {
        String text = e.text;
        if (end - start == 1 && text.charAt(start) < 0x80 && byteTokens[text.charAt(start)] >= 0) {
            e.out.add(byteTokens[text.charAt(start)]);
            return;
        }
        String word = text.substring(start, end);
        int[] cached = cache.get(word);
        if (cached != null) {
            e.out.addAll(cached);
            return;
        }
        int[] result = encodeWord(e, word);
        e.out.addAll(result);
        if (word.length() <= MAX_CACHED_WORD) {
            if (cache.size() >= CACHE_CAPACITY) {
                cache.clear();
            }
            cache.put(word, result);
        }
    }

    private int[] encodeWord(Encoding e, String word) {
        if (e.buf.length < word.length() * 3) {
            e.buf = new byte[word.length() * 3];
        }
        byte[] buf = e.buf;
        int n = Utf8.encode(word, 0, word.length(), buf);
        if (pre.ignoreMerges()) {
            int whole = ids.get(ByteLevel.encode(buf, 0, n));
            if (whole >= 0) {
                return new int[] {whole};
            }
        }
        int[] sym = new int[n];
        for (int i = 0; i < n; i++) {
            int t = byteTokens[buf[i] & 0xFF];
            if (t < 0) {
                if (unk.isEmpty()) {
                    throw error(String.format("the vocabulary has no token for byte 0x%02X (and no %s)", buf[i] & 0xFF,
                            TokenizerKeys.UNK_ID));
                }
                t = unk.getAsInt();
            }
            sym[i] = t;
        }
        if (n <= 1) {
            return sym;
        }
        return n <= SMALL_WORD ? mergeScan(merges, sym, n) : mergeHeap(merges, sym, n);
    }

    /** Merges by repeatedly taking the lowest-ranked adjacent pair (leftmost on ties): for short words. */
    static int[] mergeScan(PairRanks merges, int[] sym, int n) {
        int[] rank = new int[n - 1];
        for (int i = 0; i < n - 1; i++) {
            rank[i] = merges.rank(sym[i], sym[i + 1]);
        }
        while (n > 1) {
            int best = -1;
            int bestRank = Integer.MAX_VALUE;
            for (int i = 0; i < n - 1; i++) {
                int r = rank[i];
                if (r >= 0 && r < bestRank) {
                    bestRank = r;
                    best = i;
                }
            }
            if (best < 0) {
                break;
            }
            sym[best] = merges.mergedId(bestRank);
            System.arraycopy(sym, best + 2, sym, best + 1, n - best - 2);
            if (n - best - 3 > 0) {
                System.arraycopy(rank, best + 2, rank, best + 1, n - best - 3);
            }
            n--;
            if (best > 0) {
                rank[best - 1] = merges.rank(sym[best - 1], sym[best]);
            }
            if (best < n - 1) {
                rank[best] = merges.rank(sym[best], sym[best + 1]);
            }
        }
        return n == sym.length ? sym : Arrays.copyOf(sym, n);
    }

    /** The same merge order with a linked list and a heap of (rank, position): for long words. */
    static int[] mergeHeap(PairRanks merges, int[] sym, int n) {
        int[] prev = new int[n];
        int[] next = new int[n];
        for (int i = 0; i < n; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        long[] heap = new long[n];
        int size = 0;
        for (int i = 0; i < n - 1; i++) {
            int r = merges.rank(sym[i], sym[i + 1]);
            if (r >= 0) {
                heap[size++] = ((long) r << 32) | i;
            }
        }
        for (int i = size / 2 - 1; i >= 0; i--) {
            siftDown(heap, size, i);
        }
        int count = n;
        while (size > 0) {
            long top = heap[0];
            heap[0] = heap[--size];
            siftDown(heap, size, 0);
            int r = (int) (top >>> 32);
            int i = (int) top;
            int j;
            if (sym[i] < 0 || (j = next[i]) < 0 || merges.rank(sym[i], sym[j]) != r) {
                continue; // stale entry
            }
            sym[i] = merges.mergedId(r);
            sym[j] = -1;
            count--;
            next[i] = next[j];
            if (next[j] >= 0) {
                prev[next[j]] = i;
            }
            if (prev[i] >= 0) {
                int rl = merges.rank(sym[prev[i]], sym[i]);
                if (rl >= 0) {
                    if (size == heap.length) {
                        heap = Arrays.copyOf(heap, size * 2);
                    }
                    heap[size] = ((long) rl << 32) | prev[i];
                    siftUp(heap, size++);
                }
            }
            if (next[i] >= 0) {
                int rr = merges.rank(sym[i], sym[next[i]]);
                if (rr >= 0) {
                    if (size == heap.length) {
                        heap = Arrays.copyOf(heap, size * 2);
                    }
                    heap[size] = ((long) rr << 32) | i;
                    siftUp(heap, size++);
                }
            }
        }
        int[] out = new int[count];
        for (int i = 0, k = 0; i >= 0; i = next[i]) {
            out[k++] = sym[i];
        }
        return out;
    }

    private static void siftUp(long[] h, int i) {
        long v = h[i];
        while (i > 0) {
            int p = (i - 1) >>> 1;
            if (h[p] <= v) {
                break;
            }
            h[i] = h[p];
            i = p;
        }
        h[i] = v;
    }

    private static void siftDown(long[] h, int size, int i) {
        long v = h[i];
        while (true) {
            int c = 2 * i + 1;
            if (c >= size) {
                break;
            }
            if (c + 1 < size && h[c + 1] < h[c]) {
                c++;
            }
            if (v <= h[c]) {
                break;
            }
            h[i] = h[c];
            i = c;
        }
        h[i] = v;
    }

    // ---- decoding ----

    private void checkId(int id) {
        if (id < 0 || id >= pieces.length) {
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + pieces.length
                    + " tokens");
        }
    }

    /** The shared bytes of a token (computed once). */
    private byte[] bytesOf(int id) {
        checkId(id);
        byte[] b = (byte[]) BYTES.getAcquire(bytes, id);
        if (b == null) {
            b = switch (types[id]) {
                case NORMAL, BYTE, UNDEFINED -> ByteLevel.decode(pieces[id]);
                default -> pieces[id].getBytes(StandardCharsets.UTF_8);
            };
            BYTES.setRelease(bytes, id, b);
        }
        return b;
    }

    @Override
    public byte[] tokenBytes(int id) {
        return bytesOf(id).clone();
    }

    @Override
    public String decode(int[] tokenIds, boolean renderSpecial) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(tokenIds.length * 4);
        for (int id : tokenIds) {
            checkId(id);
            if (!renderSpecial && (types[id] == TokenType.CONTROL || types[id] == TokenType.UNKNOWN)) {
                continue;
            }
            out.writeBytes(bytesOf(id));
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    // ---- accessors ----

    @Override
    public int vocabSize() {
        return pieces.length;
    }

    @Override
    public String piece(int id) {
        checkId(id);
        return pieces[id];
    }

    @Override
    public OptionalInt tokenId(String piece) {
        int id = ids.get(piece);
        return id < 0 ? OptionalInt.empty() : OptionalInt.of(id);
    }

    @Override
    public TokenType tokenType(int id) {
        checkId(id);
        return types[id];
    }

    @Override
    public OptionalInt bosId() {
        return bos;
    }

    @Override
    public OptionalInt eosId() {
        return eos;
    }

    @Override
    public OptionalInt eotId() {
        return eot;
    }

    @Override
    public OptionalInt padId() {
        return pad;
    }

    @Override
    public OptionalInt unknownId() {
        return unk;
    }

    @Override
    public boolean addBos() {
        return addBos;
    }

    @Override
    public boolean addEos() {
        return addEos;
    }

    @Override
    public boolean isEndOfGeneration(int id) {
        return eog.get(id);
    }

    @Override
    public String model() {
        return "gpt2";
    }

    @Override
    public Optional<String> preTokenizerName() {
        return preName;
    }

    @Override
    public PreTokenizer.Resolution preTokenizer() {
        return pre;
    }

    @Override
    public boolean normalizesNfc() {
        return nfc;
    }

    @Override
    public Optional<String> chatTemplate() {
        return chatTemplate;
    }

    /** Number of merges (for diagnostics). */
    public int mergeCount() {
        return merges.size();
    }

    @Override
    public String toString() {
        return "BpeTokenizer[" + pieces.length + " tokens, " + merges.size() + " merges, pre="
                + preName.orElse("(missing)") + " -> " + pre.preTokenizer() + (nfc ? ", NFC" : "") + "]";
    }
}
