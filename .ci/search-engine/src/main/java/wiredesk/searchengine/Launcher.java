package wiredesk.searchengine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.elasticsearch.Build;
import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.node.WiredeskNode;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.transport.netty4.Netty4Plugin;

/**
 * Starts one Elasticsearch node in this JVM, bound to loopback only.
 *
 * <p>Configured by system properties (the start script sets them):
 * <ul>
 *   <li>search.home - directory for data, logs and config (required)</li>
 *   <li>search.http.port - HTTP port (default 9200)</li>
 *   <li>search.transport.port - transport port (default 9300-9399)</li>
 *   <li>search.cluster.name - cluster name (default wiredesk-ci)</li>
 * </ul>
 * Any system property starting with "es.setting." is passed on as a node
 * setting, e.g. -Des.setting.indices.query.bool.max_clause_count=2048.
 */
public final class Launcher {

    private Launcher() {}

    public static void main(String[] args) {
        try {
            run();
        } catch (Throwable t) {
            System.err.println("search-engine: node failed to start");
            t.printStackTrace();
            System.exit(1);
        }
    }

    private static void run() throws Exception {
        String home = System.getProperty("search.home");
        if (home == null) {
            System.err.println("missing -Dsearch.home=DIR");
            System.exit(2);
        }
        Path homeDir = Path.of(home).toAbsolutePath();
        Files.createDirectories(homeDir.resolve("config"));
        Files.createDirectories(homeDir.resolve("data"));
        Files.createDirectories(homeDir.resolve("logs"));

        String clusterName = System.getProperty("search.cluster.name", "wiredesk-ci");
        String nodeName = System.getProperty("search.node.name", "wiredesk-ci-node");
        Settings.Builder sb = Settings.builder()
            .put("path.home", homeDir.toString())
            .put("path.data", homeDir.resolve("data").toString())
            .put("path.logs", homeDir.resolve("logs").toString())
            .put("cluster.name", clusterName)
            .put("node.name", nodeName)
            .put("discovery.type", "single-node")
            .put("network.host", "127.0.0.1")
            .put("http.port", System.getProperty("search.http.port", "9200"))
            .put("transport.port", System.getProperty("search.transport.port", "9300-9399"))
            // CI conveniences: delete indices by wildcard, ignore disk watermarks
            .put("action.destructive_requires_name", false)
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("node.portsfile", true);
        System.getProperties().forEach((k, v) -> {
            String key = k.toString();
            if (key.startsWith("es.setting.")) {
                sb.put(key.substring("es.setting.".length()), v.toString());
            }
        });
        Settings settings = sb.build();

        // Console logging (the start script sends stdout/stderr to a log file).
        Files.writeString(homeDir.resolve("config").resolve("log4j2.properties"), String.join("\n",
            "status = error",
            "appender.console.type = Console",
            "appender.console.name = console",
            "appender.console.layout.type = PatternLayout",
            "appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n",
            "rootLogger.level = " + System.getProperty("search.log.level", "info"),
            "rootLogger.appenderRef.console.ref = console",
            "logger.deprecation.name = org.elasticsearch.deprecation",
            "logger.deprecation.level = error",
            ""));
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            settings, Map.of(), homeDir.resolve("config"), () -> nodeName);
        LogConfigurator.setNodeName(nodeName);
        LogConfigurator.setClusterName(clusterName);
        LogConfigurator.configure(environment, true);

        List<Class<? extends Plugin>> plugins = List.of(Netty4Plugin.class, WiredeskCommonPlugin.class);
        Node node = new WiredeskNode(environment, plugins);

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "search-engine-shutdown"));

        node.start();
        System.out.println("search-engine: started Elasticsearch " + Build.current().version()
            + " node [" + nodeName + "] cluster [" + clusterName + "] home " + homeDir);
        stopped.await();
    }
}
