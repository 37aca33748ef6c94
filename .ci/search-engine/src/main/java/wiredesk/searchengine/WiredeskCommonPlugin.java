package wiredesk.searchengine;

import java.io.IOException;
import java.io.Reader;
import java.lang.reflect.Constructor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.regex.Pattern;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.LowerCaseFilter;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.charfilter.HTMLStripCharFilter;
import org.apache.lucene.analysis.charfilter.MappingCharFilter;
import org.apache.lucene.analysis.charfilter.NormalizeCharMap;
import org.apache.lucene.analysis.cjk.CJKBigramFilter;
import org.apache.lucene.analysis.cjk.CJKWidthFilter;
import org.apache.lucene.analysis.core.DecimalDigitFilter;
import org.apache.lucene.analysis.core.KeywordTokenizer;
import org.apache.lucene.analysis.core.LetterTokenizer;
import org.apache.lucene.analysis.core.UpperCaseFilter;
import org.apache.lucene.analysis.core.WhitespaceTokenizer;
import org.apache.lucene.analysis.de.GermanLightStemFilter;
import org.apache.lucene.analysis.de.GermanMinimalStemFilter;
import org.apache.lucene.analysis.de.GermanNormalizationFilter;
import org.apache.lucene.analysis.de.GermanStemFilter;
import org.apache.lucene.analysis.el.GreekLowerCaseFilter;
import org.apache.lucene.analysis.en.EnglishMinimalStemFilter;
import org.apache.lucene.analysis.en.EnglishPossessiveFilter;
import org.apache.lucene.analysis.en.KStemFilter;
import org.apache.lucene.analysis.en.PorterStemFilter;
import org.apache.lucene.analysis.es.SpanishLightStemFilter;
import org.apache.lucene.analysis.fr.FrenchAnalyzer;
import org.apache.lucene.analysis.fr.FrenchLightStemFilter;
import org.apache.lucene.analysis.fr.FrenchMinimalStemFilter;
import org.apache.lucene.analysis.ga.IrishLowerCaseFilter;
import org.apache.lucene.analysis.miscellaneous.ASCIIFoldingFilter;
import org.apache.lucene.analysis.miscellaneous.KeywordRepeatFilter;
import org.apache.lucene.analysis.miscellaneous.LengthFilter;
import org.apache.lucene.analysis.miscellaneous.RemoveDuplicatesTokenFilter;
import org.apache.lucene.analysis.miscellaneous.SetKeywordMarkerFilter;
import org.apache.lucene.analysis.miscellaneous.TrimFilter;
import org.apache.lucene.analysis.miscellaneous.TruncateTokenFilter;
import org.apache.lucene.analysis.miscellaneous.WordDelimiterGraphFilter;
import org.apache.lucene.analysis.ngram.EdgeNGramTokenFilter;
import org.apache.lucene.analysis.ngram.EdgeNGramTokenizer;
import org.apache.lucene.analysis.ngram.NGramTokenFilter;
import org.apache.lucene.analysis.ngram.NGramTokenizer;
import org.apache.lucene.analysis.path.PathHierarchyTokenizer;
import org.apache.lucene.analysis.pattern.PatternReplaceCharFilter;
import org.apache.lucene.analysis.pattern.PatternTokenizer;
import org.apache.lucene.analysis.reverse.ReverseStringFilter;
import org.apache.lucene.analysis.ru.RussianLightStemFilter;
import org.apache.lucene.analysis.snowball.SnowballFilter;
import org.apache.lucene.analysis.classic.ClassicFilter;
import org.apache.lucene.analysis.classic.ClassicTokenizer;
import org.apache.lucene.analysis.email.UAX29URLEmailTokenizer;
import org.apache.lucene.analysis.th.ThaiTokenizer;
import org.apache.lucene.analysis.tr.ApostropheFilter;
import org.apache.lucene.analysis.tr.TurkishLowerCaseFilter;
import org.apache.lucene.analysis.util.ElisionFilter;
import org.elasticsearch.Build;
import org.elasticsearch.TransportVersion;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.cluster.metadata.IndexNameExpressionResolver;
import org.elasticsearch.cluster.node.DiscoveryNodes;
import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.common.io.stream.NamedWriteableRegistry;
import org.elasticsearch.common.settings.ClusterSettings;
import org.elasticsearch.common.settings.IndexScopedSettings;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.settings.SettingsFilter;
import org.elasticsearch.env.Environment;
import org.elasticsearch.features.NodeFeature;
import org.elasticsearch.index.IndexSettings;
import org.elasticsearch.index.IndexVersion;
import org.elasticsearch.index.analysis.AbstractIndexAnalyzerProvider;
import org.elasticsearch.index.analysis.Analysis;
import org.elasticsearch.index.analysis.AnalyzerProvider;
import org.elasticsearch.index.analysis.CharFilterFactory;
import org.elasticsearch.index.analysis.NormalizingCharFilterFactory;
import org.elasticsearch.index.analysis.NormalizingTokenFilterFactory;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestController;
import org.elasticsearch.rest.RestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestResponse;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.xcontent.XContentBuilder;

/**
 * Stand-in for the Elasticsearch modules that Elastic does not publish to Maven
 * Central: {@code analysis-common} (language analyzers and the common token
 * filters / tokenizers / char filters, rebuilt here on the same Lucene classes)
 * and {@code rest-root} (the {@code GET /} info endpoint).
 */
public class WiredeskCommonPlugin extends Plugin implements AnalysisPlugin, ActionPlugin {

    private volatile ClusterService clusterService;

    @Override
    public Collection<?> createComponents(PluginServices services) {
        this.clusterService = services.clusterService();
        return List.of();
    }

    // ---------------------------------------------------------------- GET /

    @Override
    public Collection<RestHandler> getRestHandlers(Settings settings, NamedWriteableRegistry namedWriteableRegistry,
            RestController restController, ClusterSettings clusterSettings, IndexScopedSettings indexScopedSettings,
            SettingsFilter settingsFilter, IndexNameExpressionResolver indexNameExpressionResolver,
            Supplier<DiscoveryNodes> nodesInCluster, java.util.function.Predicate<NodeFeature> clusterSupportsFeature) {
        return List.of(new RootHandler(settings));
    }

    private final class RootHandler extends BaseRestHandler {
        private final Settings settings;

        RootHandler(Settings settings) {
            this.settings = settings;
        }

        @Override
        public String getName() {
            return "wiredesk_main_action";
        }

        @Override
        public List<Route> routes() {
            return List.of(new Route(RestRequest.Method.GET, "/"), new Route(RestRequest.Method.HEAD, "/"));
        }

        @Override
        protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
            return channel -> {
                if (request.method() == RestRequest.Method.HEAD) {
                    channel.sendResponse(new RestResponse(RestStatus.OK, "application/json", ""));
                    return;
                }
                Build build = Build.current();
                ClusterService cs = clusterService;
                String uuid = cs == null ? "_na_" : cs.state().metadata().clusterUUID();
                XContentBuilder b = channel.newBuilder();
                b.startObject();
                b.field("name", settings.get("node.name"));
                b.field("cluster_name", settings.get("cluster.name"));
                b.field("cluster_uuid", uuid);
                b.startObject("version");
                b.field("number", build.qualifiedVersion());
                b.field("build_flavor", build.flavor());
                b.field("build_type", build.type().displayName());
                b.field("build_hash", build.hash());
                b.field("build_date", build.date());
                b.field("build_snapshot", build.isSnapshot());
                b.field("lucene_version", IndexVersion.current().luceneVersion().toString());
                b.field("minimum_wire_compatibility_version", build.minWireCompatVersion());
                b.field("minimum_index_compatibility_version", build.minIndexCompatVersion());
                b.endObject();
                b.field("tagline", "You Know, for Search");
                b.endObject();
                channel.sendResponse(new RestResponse(RestStatus.OK, b));
            };
        }
    }

    // ------------------------------------------------------------ analyzers

    /** ES analyzer name -> Lucene analyzer class (all in lucene-analysis-common). */
    private static final Map<String, String> LANGUAGE_ANALYZERS = new TreeMap<>();
    static {
        String p = "org.apache.lucene.analysis.";
        LANGUAGE_ANALYZERS.put("arabic", p + "ar.ArabicAnalyzer");
        LANGUAGE_ANALYZERS.put("armenian", p + "hy.ArmenianAnalyzer");
        LANGUAGE_ANALYZERS.put("basque", p + "eu.BasqueAnalyzer");
        LANGUAGE_ANALYZERS.put("bengali", p + "bn.BengaliAnalyzer");
        LANGUAGE_ANALYZERS.put("brazilian", p + "br.BrazilianAnalyzer");
        LANGUAGE_ANALYZERS.put("bulgarian", p + "bg.BulgarianAnalyzer");
        LANGUAGE_ANALYZERS.put("catalan", p + "ca.CatalanAnalyzer");
        LANGUAGE_ANALYZERS.put("cjk", p + "cjk.CJKAnalyzer");
        LANGUAGE_ANALYZERS.put("czech", p + "cz.CzechAnalyzer");
        LANGUAGE_ANALYZERS.put("danish", p + "da.DanishAnalyzer");
        LANGUAGE_ANALYZERS.put("dutch", p + "nl.DutchAnalyzer");
        LANGUAGE_ANALYZERS.put("english", p + "en.EnglishAnalyzer");
        LANGUAGE_ANALYZERS.put("estonian", p + "et.EstonianAnalyzer");
        LANGUAGE_ANALYZERS.put("finnish", p + "fi.FinnishAnalyzer");
        LANGUAGE_ANALYZERS.put("french", p + "fr.FrenchAnalyzer");
        LANGUAGE_ANALYZERS.put("galician", p + "gl.GalicianAnalyzer");
        LANGUAGE_ANALYZERS.put("german", p + "de.GermanAnalyzer");
        LANGUAGE_ANALYZERS.put("greek", p + "el.GreekAnalyzer");
        LANGUAGE_ANALYZERS.put("hindi", p + "hi.HindiAnalyzer");
        LANGUAGE_ANALYZERS.put("hungarian", p + "hu.HungarianAnalyzer");
        LANGUAGE_ANALYZERS.put("indonesian", p + "id.IndonesianAnalyzer");
        LANGUAGE_ANALYZERS.put("irish", p + "ga.IrishAnalyzer");
        LANGUAGE_ANALYZERS.put("italian", p + "it.ItalianAnalyzer");
        LANGUAGE_ANALYZERS.put("latvian", p + "lv.LatvianAnalyzer");
        LANGUAGE_ANALYZERS.put("lithuanian", p + "lt.LithuanianAnalyzer");
        LANGUAGE_ANALYZERS.put("norwegian", p + "no.NorwegianAnalyzer");
        LANGUAGE_ANALYZERS.put("persian", p + "fa.PersianAnalyzer");
        LANGUAGE_ANALYZERS.put("portuguese", p + "pt.PortugueseAnalyzer");
        LANGUAGE_ANALYZERS.put("romanian", p + "ro.RomanianAnalyzer");
        LANGUAGE_ANALYZERS.put("russian", p + "ru.RussianAnalyzer");
        LANGUAGE_ANALYZERS.put("serbian", p + "sr.SerbianAnalyzer");
        LANGUAGE_ANALYZERS.put("sorani", p + "ckb.SoraniAnalyzer");
        LANGUAGE_ANALYZERS.put("spanish", p + "es.SpanishAnalyzer");
        LANGUAGE_ANALYZERS.put("swedish", p + "sv.SwedishAnalyzer");
        LANGUAGE_ANALYZERS.put("thai", p + "th.ThaiAnalyzer");
        LANGUAGE_ANALYZERS.put("turkish", p + "tr.TurkishAnalyzer");
    }

    @Override
    public Map<String, AnalysisProvider<AnalyzerProvider<? extends Analyzer>>> getAnalyzers() {
        Map<String, AnalysisProvider<AnalyzerProvider<? extends Analyzer>>> m = new TreeMap<>();
        for (Map.Entry<String, String> e : LANGUAGE_ANALYZERS.entrySet()) {
            String className = e.getValue();
            m.put(e.getKey(), (indexSettings, env, name, settings) -> new LanguageAnalyzerProvider(className, env, name, settings));
        }
        return m;
    }

    /** Builds a Lucene language analyzer honouring "stopwords", "stopwords_path" and "stem_exclusion". */
    static final class LanguageAnalyzerProvider extends AbstractIndexAnalyzerProvider<Analyzer> {
        private final Analyzer analyzer;

        LanguageAnalyzerProvider(String className, Environment env, String name, Settings settings) {
            super(name, settings);
            try {
                Class<?> cls = Class.forName(className);
                CharArraySet defaults = (CharArraySet) cls.getMethod("getDefaultStopSet").invoke(null);
                CharArraySet stop = Analysis.parseStopWords(env, settings, defaults);
                CharArraySet stemExclusion = Analysis.parseStemExclusion(settings, CharArraySet.EMPTY_SET);
                Analyzer a;
                try {
                    Constructor<?> c = cls.getConstructor(CharArraySet.class, CharArraySet.class);
                    a = (Analyzer) c.newInstance(stop, stemExclusion);
                } catch (NoSuchMethodException noStemExclusion) {
                    a = (Analyzer) cls.getConstructor(CharArraySet.class).newInstance(stop);
                }
                this.analyzer = a;
            } catch (ReflectiveOperationException ex) {
                throw new IllegalArgumentException("cannot build analyzer [" + name + "] from " + className, ex);
            }
        }

        @Override
        public Analyzer get() {
            return analyzer;
        }
    }

    // -------------------------------------------------------- token filters

    private interface FilterBuilder {
        Function<TokenStream, TokenStream> build(Environment env, String name, Settings s) throws IOException;
    }

    private static AnalysisProvider<TokenFilterFactory> filter(FilterBuilder b, boolean normalizing) {
        return (indexSettings, env, name, settings) -> {
            Function<TokenStream, TokenStream> f = b.build(env, name, settings);
            if (normalizing) {
                return new NormalizingTokenFilterFactory() {
                    @Override public String name() { return name; }
                    @Override public TokenStream create(TokenStream ts) { return f.apply(ts); }
                };
            }
            return new TokenFilterFactory() {
                @Override public String name() { return name; }
                @Override public TokenStream create(TokenStream ts) { return f.apply(ts); }
            };
        };
    }

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        Map<String, AnalysisProvider<TokenFilterFactory>> m = new LinkedHashMap<>();
        m.put("lowercase", filter((env, n, s) -> {
            String lang = s.get("language");
            if (lang == null) return LowerCaseFilter::new;
            switch (lang.toLowerCase(Locale.ROOT)) {
                case "greek": return GreekLowerCaseFilter::new;
                case "irish": return IrishLowerCaseFilter::new;
                case "turkish": return TurkishLowerCaseFilter::new;
                default: throw new IllegalArgumentException("language [" + lang + "] not supported for lowercase");
            }
        }, true));
        m.put("uppercase", filter((env, n, s) -> UpperCaseFilter::new, true));
        m.put("asciifolding", filter((env, n, s) -> {
            boolean preserve = s.getAsBoolean("preserve_original", false);
            return ts -> new ASCIIFoldingFilter(ts, preserve);
        }, true));
        m.put("stemmer", filter((env, n, s) -> stemmer(s.get("language", s.get("name", "porter"))), false));
        m.put("snowball", filter((env, n, s) -> {
            String lang = s.get("language", "English");
            return ts -> new SnowballFilter(ts, capitalize(lang));
        }, false));
        m.put("porter_stem", filter((env, n, s) -> PorterStemFilter::new, false));
        m.put("kstem", filter((env, n, s) -> KStemFilter::new, false));
        m.put("elision", filter((env, n, s) -> {
            CharArraySet articles = Analysis.parseArticles(env, s);
            CharArraySet a = articles == null ? FrenchAnalyzer.DEFAULT_ARTICLES : articles;
            return ts -> new ElisionFilter(ts, a);
        }, true));
        m.put("trim", filter((env, n, s) -> TrimFilter::new, true));
        m.put("unique", filter((env, n, s) -> {
            boolean samePos = s.getAsBoolean("only_on_same_position", false);
            return samePos ? RemoveDuplicatesTokenFilter::new : UniqueTokenFilter::new;
        }, false));
        m.put("remove_duplicates", filter((env, n, s) -> RemoveDuplicatesTokenFilter::new, false));
        m.put("reverse", filter((env, n, s) -> ReverseStringFilter::new, false));
        m.put("truncate", filter((env, n, s) -> {
            int len = s.getAsInt("length", 10);
            return ts -> new TruncateTokenFilter(ts, len);
        }, false));
        m.put("length", filter((env, n, s) -> {
            int min = s.getAsInt("min", 0);
            int max = s.getAsInt("max", Integer.MAX_VALUE);
            return ts -> new LengthFilter(ts, min, max);
        }, false));
        m.put("edge_ngram", filter((env, n, s) -> {
            int min = s.getAsInt("min_gram", 1);
            int max = s.getAsInt("max_gram", 2);
            boolean preserve = s.getAsBoolean("preserve_original", false);
            boolean back = "back".equals(s.get("side", "front"));
            return ts -> back
                ? new ReverseStringFilter(new EdgeNGramTokenFilter(new ReverseStringFilter(ts), min, max, preserve))
                : new EdgeNGramTokenFilter(ts, min, max, preserve);
        }, false));
        m.put("ngram", filter((env, n, s) -> {
            int min = s.getAsInt("min_gram", 1);
            int max = s.getAsInt("max_gram", 2);
            boolean preserve = s.getAsBoolean("preserve_original", false);
            return ts -> new NGramTokenFilter(ts, min, max, preserve);
        }, false));
        m.put("word_delimiter_graph", filter((env, n, s) -> {
            int flags = 0;
            if (s.getAsBoolean("generate_word_parts", true)) flags |= WordDelimiterGraphFilter.GENERATE_WORD_PARTS;
            if (s.getAsBoolean("generate_number_parts", true)) flags |= WordDelimiterGraphFilter.GENERATE_NUMBER_PARTS;
            if (s.getAsBoolean("catenate_words", false)) flags |= WordDelimiterGraphFilter.CATENATE_WORDS;
            if (s.getAsBoolean("catenate_numbers", false)) flags |= WordDelimiterGraphFilter.CATENATE_NUMBERS;
            if (s.getAsBoolean("catenate_all", false)) flags |= WordDelimiterGraphFilter.CATENATE_ALL;
            if (s.getAsBoolean("split_on_case_change", true)) flags |= WordDelimiterGraphFilter.SPLIT_ON_CASE_CHANGE;
            if (s.getAsBoolean("preserve_original", false)) flags |= WordDelimiterGraphFilter.PRESERVE_ORIGINAL;
            if (s.getAsBoolean("split_on_numerics", true)) flags |= WordDelimiterGraphFilter.SPLIT_ON_NUMERICS;
            if (s.getAsBoolean("stem_english_possessive", true)) flags |= WordDelimiterGraphFilter.STEM_ENGLISH_POSSESSIVE;
            int f = flags;
            return ts -> new WordDelimiterGraphFilter(ts, f, null);
        }, false));
        m.put("decimal_digit", filter((env, n, s) -> DecimalDigitFilter::new, true));
        m.put("cjk_width", filter((env, n, s) -> CJKWidthFilter::new, true));
        m.put("cjk_bigram", filter((env, n, s) -> CJKBigramFilter::new, false));
        m.put("apostrophe", filter((env, n, s) -> ApostropheFilter::new, false));
        m.put("classic", filter((env, n, s) -> ClassicFilter::new, false));
        m.put("keyword_repeat", filter((env, n, s) -> KeywordRepeatFilter::new, false));
        m.put("keyword_marker", filter((env, n, s) -> {
            boolean ignoreCase = s.getAsBoolean("ignore_case", false);
            CharArraySet words = Analysis.getWordSet(env, s, "keywords");
            CharArraySet set = words == null ? CharArraySet.EMPTY_SET : new CharArraySet(words, ignoreCase);
            return ts -> new SetKeywordMarkerFilter(ts, set);
        }, false));
        m.put("german_normalization", filter((env, n, s) -> GermanNormalizationFilter::new, true));
        return m;
    }

    /** Same language names as Elasticsearch's "stemmer" filter for the common cases; others go to Snowball. */
    private static Function<TokenStream, TokenStream> stemmer(String language) {
        switch (language.toLowerCase(Locale.ROOT)) {
            case "english": case "porter": return PorterStemFilter::new;
            case "light_english": case "kstem": return KStemFilter::new;
            case "minimal_english": return EnglishMinimalStemFilter::new;
            case "possessive_english": return EnglishPossessiveFilter::new;
            case "porter2": return ts -> new SnowballFilter(ts, "English");
            case "light_russian": return RussianLightStemFilter::new;
            case "german": return GermanStemFilter::new;
            case "light_german": return GermanLightStemFilter::new;
            case "minimal_german": return GermanMinimalStemFilter::new;
            case "light_french": return FrenchLightStemFilter::new;
            case "minimal_french": return FrenchMinimalStemFilter::new;
            case "light_spanish": return SpanishLightStemFilter::new;
            default:
                String program = capitalize(language);
                try {
                    Class.forName("org.tartarus.snowball.ext." + program + "Stemmer");
                } catch (ClassNotFoundException e) {
                    throw new IllegalArgumentException("stemmer language [" + language + "] is not supported here");
                }
                return ts -> new SnowballFilter(ts, program);
        }
    }

    private static String capitalize(String s) {
        String l = s.toLowerCase(Locale.ROOT);
        return Character.toUpperCase(l.charAt(0)) + l.substring(1);
    }

    /** "unique" without only_on_same_position: drops any token text already seen in the stream. */
    static final class UniqueTokenFilter extends org.apache.lucene.analysis.TokenFilter {
        private final org.apache.lucene.analysis.tokenattributes.CharTermAttribute term =
            addAttribute(org.apache.lucene.analysis.tokenattributes.CharTermAttribute.class);
        private final Set<String> seen = new HashSet<>();

        UniqueTokenFilter(TokenStream in) {
            super(in);
        }

        @Override
        public boolean incrementToken() throws IOException {
            while (input.incrementToken()) {
                if (seen.add(term.toString())) {
                    return true;
                }
            }
            return false;
        }

        @Override
        public void reset() throws IOException {
            super.reset();
            seen.clear();
        }
    }

    // ------------------------------------------------------------ tokenizers

    private interface TokenizerBuilder {
        Supplier<Tokenizer> build(Settings s);
    }

    private static AnalysisProvider<TokenizerFactory> tokenizer(TokenizerBuilder b) {
        return (indexSettings, env, name, settings) -> TokenizerFactory.newFactory(name, b.build(settings));
    }

    @Override
    public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
        Map<String, AnalysisProvider<TokenizerFactory>> m = new LinkedHashMap<>();
        m.put("whitespace", tokenizer(s -> {
            int max = s.getAsInt("max_token_length", 255);
            return () -> new WhitespaceTokenizer(org.apache.lucene.analysis.TokenStream.DEFAULT_TOKEN_ATTRIBUTE_FACTORY, max);
        }));
        m.put("keyword", tokenizer(s -> {
            int buf = s.getAsInt("buffer_size", 256);
            return () -> new KeywordTokenizer(buf);
        }));
        m.put("letter", tokenizer(s -> LetterTokenizer::new));
        m.put("classic", tokenizer(s -> {
            int max = s.getAsInt("max_token_length", 255);
            return () -> { ClassicTokenizer t = new ClassicTokenizer(); t.setMaxTokenLength(max); return t; };
        }));
        m.put("uax_url_email", tokenizer(s -> {
            int max = s.getAsInt("max_token_length", 255);
            return () -> { UAX29URLEmailTokenizer t = new UAX29URLEmailTokenizer(); t.setMaxTokenLength(max); return t; };
        }));
        m.put("thai", tokenizer(s -> ThaiTokenizer::new));
        m.put("path_hierarchy", tokenizer(s -> {
            char delim = s.get("delimiter", "/").charAt(0);
            String rep = s.get("replacement");
            char replacement = rep == null ? delim : rep.charAt(0);
            int skip = s.getAsInt("skip", 0);
            return () -> new PathHierarchyTokenizer(delim, replacement, skip);
        }));
        m.put("pattern", tokenizer(s -> {
            Pattern p = Pattern.compile(s.get("pattern", "\\W+"));
            int group = s.getAsInt("group", -1);
            return () -> new PatternTokenizer(p, group);
        }));
        m.put("ngram", tokenizer(s -> {
            int min = s.getAsInt("min_gram", 1);
            int max = s.getAsInt("max_gram", 2);
            CharMatcher cm = CharMatcher.of(s.getAsList("token_chars"));
            return () -> new NGramTokenizer(min, max) {
                @Override protected boolean isTokenChar(int chr) { return cm.matches(chr); }
            };
        }));
        m.put("edge_ngram", tokenizer(s -> {
            int min = s.getAsInt("min_gram", 1);
            int max = s.getAsInt("max_gram", 2);
            CharMatcher cm = CharMatcher.of(s.getAsList("token_chars"));
            return () -> new EdgeNGramTokenizer(min, max) {
                @Override protected boolean isTokenChar(int chr) { return cm.matches(chr); }
            };
        }));
        return m;
    }

    /** token_chars of the ngram tokenizers: letter, digit, whitespace, punctuation, symbol (empty = all). */
    private interface CharMatcher {
        boolean matches(int c);

        static CharMatcher of(List<String> classes) {
            if (classes.isEmpty()) return c -> true;
            List<CharMatcher> ms = new ArrayList<>();
            for (String cls : classes) {
                switch (cls.toLowerCase(Locale.ROOT)) {
                    case "letter": ms.add(Character::isLetter); break;
                    case "digit": ms.add(Character::isDigit); break;
                    case "whitespace": ms.add(Character::isWhitespace); break;
                    case "punctuation": ms.add(c -> {
                        switch (Character.getType(c)) {
                            case Character.START_PUNCTUATION: case Character.END_PUNCTUATION:
                            case Character.OTHER_PUNCTUATION: case Character.CONNECTOR_PUNCTUATION:
                            case Character.DASH_PUNCTUATION: case Character.INITIAL_QUOTE_PUNCTUATION:
                            case Character.FINAL_QUOTE_PUNCTUATION: return true;
                            default: return false;
                        }
                    }); break;
                    case "symbol": ms.add(c -> {
                        switch (Character.getType(c)) {
                            case Character.CURRENCY_SYMBOL: case Character.MATH_SYMBOL:
                            case Character.OTHER_SYMBOL: case Character.MODIFIER_SYMBOL: return true;
                            default: return false;
                        }
                    }); break;
                    default: throw new IllegalArgumentException("unknown token_chars class [" + cls + "]");
                }
            }
            return c -> {
                for (CharMatcher m : ms) if (m.matches(c)) return true;
                return false;
            };
        }
    }

    // ---------------------------------------------------------- char filters

    @Override
    public Map<String, AnalysisProvider<CharFilterFactory>> getCharFilters() {
        Map<String, AnalysisProvider<CharFilterFactory>> m = new LinkedHashMap<>();
        m.put("html_strip", (indexSettings, env, name, s) -> {
            Set<String> escaped = new HashSet<>(s.getAsList("escaped_tags"));
            return new CharFilterFactory() {
                @Override public String name() { return name; }
                @Override public Reader create(Reader r) { return new HTMLStripCharFilter(r, escaped.isEmpty() ? null : escaped); }
            };
        });
        m.put("mapping", AnalysisPlugin.requiresAnalysisSettings((indexSettings, env, name, s) -> {
            List<String> rules = Analysis.getWordList(env, s, "mappings");
            if (rules == null) throw new IllegalArgumentException("mapping requires either `mappings` or `mappings_path` to be configured");
            NormalizeCharMap.Builder nb = new NormalizeCharMap.Builder();
            for (String rule : rules) {
                int i = rule.indexOf("=>");
                if (i < 0) throw new IllegalArgumentException("invalid mapping rule [" + rule + "]");
                nb.add(unescape(rule.substring(0, i).trim()), unescape(rule.substring(i + 2).trim()));
            }
            NormalizeCharMap map = nb.build();
            return new NormalizingCharFilterFactory() {
                @Override public String name() { return name; }
                @Override public Reader create(Reader r) { return new MappingCharFilter(map, r); }
            };
        }));
        m.put("pattern_replace", AnalysisPlugin.requiresAnalysisSettings((indexSettings, env, name, s) -> {
            String pattern = s.get("pattern");
            if (pattern == null) throw new IllegalArgumentException("pattern is missing for [" + name + "] char filter of type 'pattern_replace'");
            Pattern p = Pattern.compile(pattern);
            String replacement = s.get("replacement", "");
            return new NormalizingCharFilterFactory() {
                @Override public String name() { return name; }
                @Override public Reader create(Reader r) { return new PatternReplaceCharFilter(p, replacement, r); }
            };
        }));
        return m;
    }

    private static String unescape(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                char n = s.charAt(++i);
                switch (n) {
                    case 'n': b.append('\n'); break;
                    case 't': b.append('\t'); break;
                    case 'r': b.append('\r'); break;
                    case 'u':
                        b.append((char) Integer.parseInt(s.substring(i + 1, i + 5), 16));
                        i += 4;
                        break;
                    default: b.append(n);
                }
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
