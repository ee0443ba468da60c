// Evaluate XPath cases with JavaRosa (ODK Collect's engine), as bundled in the ODK Validate jar that pyxform 1.x
// wheels ship (JavaRosa 4.2.0 in pyxform 1.12.2). Each case's XForm is loaded as Collect loads it (FormDef, with
// the binds' types, so a date answer is a date), then the expression is evaluated at the context node and turned
// into a string the way XPath string() does in JavaRosa (XPathFuncExpr.toString).
//
//   javac -cp ODK_Validate.jar -d out JavaRosaEval.java
//   java -Duser.timezone=Asia/Shanghai -cp ODK_Validate.jar:out JavaRosaEval cases.tsv results.json
//
// cases.tsv: one case a line, "id<TAB>base64(xform)<TAB>base64(context path)<TAB>base64(xpath)".
// results.json: [{"id": ..., "javarosa": {"value": ...} | {"error": ...}}, ...]
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.javarosa.core.model.FormDef;
import org.javarosa.core.model.condition.EvaluationContext;
import org.javarosa.core.model.instance.FormInstance;
import org.javarosa.core.model.instance.InstanceInitializationFactory;
import org.javarosa.core.model.instance.TreeReference;
import org.javarosa.model.xform.XFormsModule;
import org.javarosa.xform.util.XFormUtils;
import org.javarosa.xpath.XPathNodeset;
import org.javarosa.xpath.XPathParseTool;
import org.javarosa.xpath.expr.XPathFuncExpr;

public class JavaRosaEval {
    private static final Pattern POSITION = Pattern.compile("^(.*)\\[(\\d+)\\](.*)$");

    private static String decode(String s) {
        return new String(Base64.getDecoder().decode(s), StandardCharsets.UTF_8);
    }

    private static String json(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (ch < 0x20) b.append(String.format("\\u%04x", (int) ch));
                    else b.append(ch);
            }
        }
        return b.append('"').toString();
    }

    private static String oneLine(Throwable t) {
        String m = t.getClass().getSimpleName() + ": " + t.getMessage();
        m = m.split("\n")[0];
        return m.length() > 400 ? m.substring(0, 400) : m;
    }

    public static void main(String[] args) throws Exception {
        // As Collect does at start: jr:choice-name needs the XForms module (RestoreUtils' factory).
        new XFormsModule().registerModule();
        List<String> lines = Files.readAllLines(Paths.get(args[0]), StandardCharsets.UTF_8);
        Map<String, FormDef> forms = new HashMap<>();
        StringBuilder out = new StringBuilder("[\n");
        boolean first = true;
        for (String line : lines) {
            if (line.isEmpty()) continue;
            String[] f = line.split("\t", -1);
            String id = f[0], xform = decode(f[1]), context = decode(f[2]), xpath = decode(f[3]);
            String result;
            try {
                FormDef fd = forms.get(xform);
                if (fd == null) {
                    fd = XFormUtils.getFormFromInputStream(
                            new ByteArrayInputStream(xform.getBytes(StandardCharsets.UTF_8)));
                    fd.initialize(false, new InstanceInitializationFactory());
                    forms.put(xform, fd);
                }
                FormInstance main = fd.getMainInstance();
                EvaluationContext base = fd.getEvaluationContext();
                // "/data/r[2]/rc": the second of /data/r/rc (each repeat entry has one), found without a
                // positional predicate so that the harness does not depend on how JavaRosa reads one.
                Matcher m = POSITION.matcher(context);
                int index = m.matches() ? Integer.parseInt(m.group(2)) - 1 : 0;
                String path = m.matches() ? m.group(1) + m.group(3) : context;
                Object ctx = XPathParseTool.parseXPath(path).eval(main, base);
                if (!(ctx instanceof XPathNodeset) || ((XPathNodeset) ctx).size() <= index
                        || (!m.matches() && ((XPathNodeset) ctx).size() != 1)) {
                    throw new IllegalStateException("no context node " + context);
                }
                TreeReference ref = ((XPathNodeset) ctx).getRefAt(index);
                EvaluationContext ec = new EvaluationContext(base, ref);
                ec.setOriginalContext(ref);
                Object v = XPathParseTool.parseXPath(xpath).eval(main, ec);
                result = "{\"value\": " + json(XPathFuncExpr.toString(v)) + "}";
            } catch (Throwable t) {
                result = "{\"error\": " + json(oneLine(t)) + "}";
            }
            out.append(first ? "" : ",\n").append("{\"id\": ").append(json(id)).append(", \"javarosa\": ")
                    .append(result).append("}");
            first = false;
        }
        out.append("\n]\n");
        Files.write(Paths.get(args[1]), out.toString().getBytes(StandardCharsets.UTF_8));
    }
}
