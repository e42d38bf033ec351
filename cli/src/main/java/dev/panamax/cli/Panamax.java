package dev.panamax.cli;

import dev.panamax.gguf.PanamaxException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;

/** The {@code panamax} command line: subcommands for inspecting, running and serving models. */
@Command(name = "panamax", scope = ScopeType.INHERIT,
        mixinStandardHelpOptions = true,
        versionProvider = Panamax.Version.class,
        description = "Pure-Java LLM inference for GGUF models.",
        subcommands = {RunCommand.class, ChatCommand.class, ServeCommand.class, TokenizeCommand.class, InspectCommand.class, BenchCommand.class,
            PlanCommand.class, QuantizeCommand.class, ConvertCommand.class, PerplexityCommand.class,
            CommandLine.HelpCommand.class})
public final class Panamax implements Runnable {

    @Option(names = "--verbose", scope = ScopeType.INHERIT,
            description = "Print stack traces of errors (for bug reports).")
    boolean verbose;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "a command is required (see 'panamax --help')");
    }

    public static void main(String[] args) {
        System.exit(execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the CLI with the given streams and returns the exit code (tests call this). */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        Panamax root = new Panamax();
        CommandLine cl = new CommandLine(root);
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            boolean verbose = parseResult.matchedOption("--verbose") != null || root.verbose;
            commandLine.getErr().println("panamax: error: " + messageOf(e));
            if (verbose) {
                e.printStackTrace(commandLine.getErr());
            }
            commandLine.getErr().flush();
            return e instanceof PanamaxException || e instanceof UncheckedIOException || e instanceof IOException ? 1 : 2;
        });
        cl.setParameterExceptionHandler((e, args1) -> {
            CommandLine c = e.getCommandLine();
            c.getErr().println("panamax: " + e.getMessage());
            c.getErr().println("Try '" + c.getCommandSpec().qualifiedName() + " --help' for more information.");
            c.getErr().flush();
            return 2;
        });
        return cl.execute(args);
    }

    private static String messageOf(Throwable e) {
        if (e instanceof PanamaxException) {
            return e.getMessage();
        }
        if (e instanceof UncheckedIOException u) {
            e = u.getCause();
        }
        String m = e.getMessage();
        return m == null ? e.getClass().getSimpleName() : e.getClass().getSimpleName() + ": " + m;
    }

    /** This build's version (from the resource written by Maven), or "unknown". */
    static String versionString() {
        Properties p = new Properties();
        try (InputStream in = Panamax.class.getResourceAsStream("version.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException ignored) {
            // fall through to "unknown"
        }
        return p.getProperty("version", "unknown");
    }

    /** Version from the build (resource written by Maven). */
    static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {
                "panamax " + versionString(),
                "Java " + Runtime.version() + " (" + System.getProperty("java.vm.name") + ")",
            };
        }
    }
}
