// Evaluate XPath cases with the two web reference engines (ODK Web Forms' @getodk/xpath and Enketo's
// openrosa-xpath-evaluator), each over its own XForm document built from the case's instance.
//
//   TZ=Asia/Shanghai node evaluate.mjs <dir with node_modules> cases.json results.json
//
// The packages live OUTSIDE the repository (see generate.py); this script only reads them.
// Every case: {id, xform, context, xpath}; every result: {id, odk: {value}|{error}, enketo: ...}.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const [dir, casesFile, outFile] = process.argv.slice(2);
const require = createRequire(`${dir}/package.json`);
globalThis.require = require;
// @getodk/xpath's bundled tree-sitter (emscripten) looks for __dirname when it sees Node.
globalThis.__dirname = `${dir}/vendor/package/dist/`;

const { JSDOM } = require('jsdom');
const dom = new JSDOM('');
for (const k of ['Node', 'Document', 'Element', 'Attr', 'Text', 'XPathResult', 'DOMParser', 'XMLDocument',
  'XPathEvaluator', 'XPathExpression', 'NodeFilter', 'XPathException', 'CharacterData', 'Comment',
  'ProcessingInstruction', 'DocumentFragment', 'NodeList']) {
  globalThis[k] = dom.window[k];
}
globalThis.window = dom.window;
globalThis.document = dom.window.document;

const odk = await import(pathToFileURL(`${dir}/vendor/package/dist/index.js`).href);
const orxe = require('openrosa-xpath-evaluator');
const enketo = orxe();
const STRING = dom.window.XPathResult.STRING_TYPE;
const FIRST = dom.window.XPathResult.FIRST_ORDERED_NODE_TYPE;
const NS = { jr: 'http://openrosa.org/javarosa', orx: 'http://openrosa.org/xforms', h: 'http://www.w3.org/1999/xhtml' };
const resolver = { lookupNamespaceURI: (p) => NS[p] ?? null };
const tz = process.env.TZ || 'UTC';

function run(fn) {
  try {
    const v = fn();
    return { value: v };
  } catch (err) {
    return { error: String(err && err.message ? err.message : err).split('\n')[0].slice(0, 200) };
  }
}

const cases = JSON.parse(readFileSync(casesFile, 'utf8'));
const out = [];
for (const c of cases) {
  const parse = () => new dom.window.DOMParser().parseFromString(c.xform, 'text/xml');
  const odkDoc = parse();
  const odkRes = run(() => {
    const ev = new odk.XFormsXPathEvaluator({
      rootNode: odkDoc.getElementsByTagName("instance")[0],
      domAdapter: odk.DEFAULT_DOM_ADAPTER,
      itextTranslationsByLanguage: new Map(),
      secondaryInstancesById: new Map(),
      timeZoneId: tz,
    });
    const data = odkDoc.getElementsByTagName('data')[0];
    const ctx = ev.evaluate(c.context, data, resolver, FIRST).singleNodeValue;
    if (!ctx) throw new Error(`no context node ${c.context}`);
    return ev.evaluate(c.xpath, ctx, resolver, STRING).stringValue;
  });
  const enkDoc = new dom.window.DOMParser().parseFromString(c.instance, 'text/xml');
  const enkRes = run(() => {
    const ctx = enkDoc.evaluate(c.context, enkDoc, (p) => NS[p] ?? null, FIRST, null).singleNodeValue;
    if (!ctx) throw new Error(`no context node ${c.context}`);
    return enketo.evaluate(c.xpath, ctx, (p) => NS[p] ?? null, STRING, null).stringValue;
  });
  out.push({ id: c.id, odk: odkRes, enketo: enkRes });
}
writeFileSync(outFile, JSON.stringify(out));
