/**
 * The run-time schema interpreter against ajv (the reference) on the same converted schemas:
 * for every sample document and every one-member mutation of it, both must agree on validity.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSchema, exampleSpec, formatPath, imageSchemas, runtimeFeatures, runtimeSchemas } from '../../src/oci/index.js';
import { fullConfig, sampleImageConfig, sampleIndex, sampleManifest } from './fixtures.js';
import { ajvValidators, mutations } from './util.js';

const ajv = await ajvValidators();

function agree(kind: 'runtime' | 'image', root: string, file: string, docs: Iterable<{ path: (string | number)[]; doc: unknown }>): number {
  const table = kind === 'runtime' ? runtimeSchemas() : imageSchemas();
  const ref = ajv[kind](file);
  let n = 0, invalid = 0;
  for (const { path, doc } of docs) {
    const mine = checkSchema(table, root, doc);
    const theirs = ref(doc);
    assert.equal(mine.length === 0, theirs, `${root} mutated at ${formatPath(path)}: interpreter says ${JSON.stringify(mine)}, ajv says ${theirs}`);
    n++;
    if (!theirs) invalid++;
  }
  assert.ok(invalid > 0, 'some mutations must be invalid');
  return n;
}

test('valid samples pass both validators', () => {
  for (const [root, file, doc] of [
    ['config', 'config-schema.json', exampleSpec()], ['config', 'config-schema.json', exampleSpec({ rootless: true })],
    ['config', 'config-schema.json', fullConfig()], ['features', 'features-schema.json', runtimeFeatures()],
    ['state', 'state-schema.json', { ociVersion: '1.3.0', id: 'x', status: 'running', pid: 1, bundle: '/b' }],
  ] as const) {
    assert.deepEqual(checkSchema(runtimeSchemas(), root, doc), [], root);
    assert.equal(ajv.runtime(file)(doc), true, root);
  }
  for (const [root, file, doc] of [
    ['manifest', 'image-manifest-schema.json', sampleManifest()], ['index', 'image-index-schema.json', sampleIndex()],
    ['config', 'config-schema.json', sampleImageConfig()], ['layout', 'image-layout-schema.json', { imageLayoutVersion: '1.0.0' }],
    ['descriptor', 'content-descriptor.json', sampleManifest().config],
  ] as const) {
    assert.deepEqual(checkSchema(imageSchemas(), root, doc), [], root);
    assert.equal(ajv.image(file)(doc), true, root);
  }
});

test('interpreter agrees with ajv on every mutation of a full config.json', () => {
  const n = agree('runtime', 'config', 'config-schema.json', mutations(fullConfig()));
  assert.ok(n > 500, `only ${n} mutations`);
});

test('interpreter agrees with ajv on mutations of state and features', () => {
  agree('runtime', 'state', 'state-schema.json', mutations({ ociVersion: '1.3.0', id: 'x', status: 'created', pid: 1, bundle: '/b', annotations: { a: 'b' } }));
  agree('runtime', 'features', 'features-schema.json', mutations(runtimeFeatures({ annotations: { a: 'b' } })));
});

test('interpreter agrees with ajv on mutations of image documents', () => {
  agree('image', 'manifest', 'image-manifest-schema.json', mutations({ ...sampleManifest(), subject: sampleManifest().config, artifactType: 'application/x' }));
  agree('image', 'index', 'image-index-schema.json', mutations(sampleIndex()));
  agree('image', 'config', 'config-schema.json', mutations(sampleImageConfig()));
  agree('image', 'layout', 'image-layout-schema.json', mutations({ imageLayoutVersion: '1.0.0' }));
});

test('interpreter agrees with ajv on hand-picked edge cases', () => {
  const cfg = (patch: (s: any) => void) => { const s: any = fullConfig(); patch(s); return s; };
  const cases = [
    cfg((s) => { s.process.user.uid = 4294967296; }), // above uint32
    cfg((s) => { s.process.user.uid = 4294967295; }),
    cfg((s) => { s.process.rlimits[0].type = 'rlimit_nofile'; }), // pattern
    cfg((s) => { s.hooks.prestart[0].timeout = 0; }), // minimum 1
    cfg((s) => { s.linux.resources.hugepageLimits[0].pageSize = '2mb'; }),
    cfg((s) => { s.linux.intelRdt.memBwSchema = 'MB:0=70\nL3:0=1'; }),
    cfg((s) => { s.linux.seccomp.syscalls[0].names = []; }), // minItems
    cfg((s) => { s.linux.namespaces[0].type = 'bogus'; }), // anyOf/enum
    cfg((s) => { s.annotations = { '': 'x' }; }), // pattern property ".{1,}" does not match ''
    cfg((s) => { s.annotations = { k: 1 }; }),
    cfg((s) => { s.windows = { layerFolders: 'x' }; }),
    cfg((s) => { s.vm = { hypervisor: { path: 'x' }, kernel: { path: 'k' }, hwConfig: { iomems: [{ hostStart: 'x' }] } }; }),
    cfg((s) => { s.linux.devices[0].type = 'x'; }),
  ];
  agree('runtime', 'config', 'config-schema.json', cases.map((doc, i) => ({ path: [i], doc })));
  const img = [
    { ...sampleManifest(), schemaVersion: 1 },
    { ...sampleManifest(), layers: [{ ...sampleManifest().layers[1], mediaType: 'no-slash' }] },
    { ...sampleManifest(), layers: [{ ...sampleManifest().layers[1], digest: 'sha256:' }] },
    { ...sampleManifest(), layers: [] },
  ];
  agree('image', 'manifest', 'image-manifest-schema.json', img.map((doc, i) => ({ path: [i], doc })));
});

test('formats: date-time and uri (ajv here ignores formats, so checked directly)', () => {
  const table = imageSchemas();
  for (const created of ['yesterday', '2024-13-01T00:00:00Z', '2024-01-01 00:00', '2024-01-01T00:00:00']) {
    assert.deepEqual(checkSchema(table, 'config', { ...sampleImageConfig(), created }), [{ path: 'created', message: 'must be a valid date-time' }], created);
  }
  for (const created of ['2024-01-01T00:00:00Z', '2024-01-01T00:00:00.5+02:00', '2024-02-29t23:59:60z']) {
    assert.deepEqual(checkSchema(table, 'config', { ...sampleImageConfig(), created }), [], created);
  }
  const m = sampleManifest();
  m.layers[1].urls = ['not a uri', 'https://ok.example/x'];
  assert.deepEqual(checkSchema(table, 'manifest', m), [{ path: 'layers[1].urls[0]', message: 'must be a valid uri' }]);
});

test('problem paths and messages', () => {
  const s: any = exampleSpec();
  s.process.user.uid = 'root';
  s.mounts[1].options = 'ro';
  s.annotations = { 'a.b': 5 };
  delete s.ociVersion;
  const probs = checkSchema(runtimeSchemas(), 'config', s).map((p) => `${p.path}: ${p.message}`);
  assert.deepEqual(probs.sort(), [
    'annotations["a.b"]: must be string',
    'mounts[1].options: must be array',
    'ociVersion: is required',
    'process.user.uid: must be integer',
  ]);
  const cfg = sampleImageConfig();
  cfg.config.Entrypoint = 'sh';
  assert.deepEqual(checkSchema(imageSchemas(), 'config', cfg), [{ path: 'config.Entrypoint', message: 'must be array or null' }]);
  assert.deepEqual(checkSchema(runtimeSchemas(), 'config', 'x'), [{ path: '', message: 'must be object' }]);
});

test('at most `max` problems are collected', () => {
  const s: any = exampleSpec();
  s.mounts = s.mounts.map(() => 1);
  assert.equal(checkSchema(runtimeSchemas(), 'config', s, 3).length, 3);
  assert.equal(checkSchema(runtimeSchemas(), 'config', s).length, 7);
});
