package org.elasticsearch.node;

import java.util.Collection;

import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.MockPluginsService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginsLoader;
import org.elasticsearch.plugins.PluginsService;

/**
 * A regular Elasticsearch {@link Node} whose plugins/modules are classes already
 * on the classpath (there is no ES_HOME/modules directory). Lives in this package
 * because {@link NodeConstruction} and {@link NodeServiceProvider} are
 * package-private. Unlike the test framework's MockNode it does not touch
 * ESTestCase, whose static initialiser refuses to run as root.
 */
public class WiredeskNode extends Node {

    public WiredeskNode(Environment environment, Collection<Class<? extends Plugin>> classpathPlugins) {
        super(NodeConstruction.prepareConstruction(environment, null, new NodeServiceProvider() {
            @Override
            PluginsService newPluginService(Environment env, PluginsLoader pluginsLoader) {
                return new MockPluginsService(env.settings(), env, classpathPlugins);
            }
        }, true));
    }
}
