import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { CSIDriver } from 'kubernetes-models/storage.k8s.io/v1/CSIDriver';
import { StorageClass } from 'kubernetes-models/storage.k8s.io/v1/StorageClass';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { PersistentVolume } from 'kubernetes-models/v1/PersistentVolume';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { parse as parseHcl } from '@cdktf/hcl2json';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';

/**
 * deploy/kubernetes, checked offline: every object against the Kubernetes API schemas (kubernetes-models,
 * compiled from the API's OpenAPI), then the references between objects that the schemas cannot see —
 * the Secrets, ConfigMaps, claims, accounts and Services the workloads name exist and carry the keys and
 * ports used; the controller's config loads with Polly's own loader; the image is the one
 * deploy/image/build.sh builds.
 */

const DIR = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const NS = 'polly';
/** Made by the operator from `polly service token` once the controller runs (README). */
const OPERATOR_SECRETS = new Set(['polly-token']);

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

type Model = new (data: never) => { validate(): void };
const MODELS: Record<string, Model> = {
  'v1/Namespace': Namespace,
  'v1/Secret': Secret,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'v1/PersistentVolume': PersistentVolume,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'apps/v1/DaemonSet': DaemonSet,
  'apps/v1/StatefulSet': StatefulSet,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'storage.k8s.io/v1/CSIDriver': CSIDriver,
  'storage.k8s.io/v1/StorageClass': StorageClass,
};
const CLUSTER_SCOPED = new Set(['Namespace', 'PersistentVolume', 'ClusterRole', 'ClusterRoleBinding', 'CSIDriver', 'StorageClass', 'VolumeSnapshotClass']);

const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
const objects: Array<Obj & { file: string }> = files.flatMap((file) =>
  parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null)
    .map((o) => ({ ...o, file })),
);
const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
const all = (kind: string) => objects.filter((o) => o.kind === kind);

interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  securityContext?: { privileged?: boolean };
}
interface PodSpec {
  containers: Container[];
  volumes?: Array<{ name: string; secret?: { secretName: string }; configMap?: { name: string }; persistentVolumeClaim?: { claimName: string }; hostPath?: { path: string } }>;
  serviceAccountName?: string;
  hostNetwork?: boolean;
  dnsPolicy?: string;
}
interface Workload extends Obj {
  spec: { replicas?: number; strategy?: { type: string }; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
}
const workloads = objects.filter((o) => ['Deployment', 'DaemonSet', 'StatefulSet'].includes(o.kind)) as unknown as Array<Workload & { file: string }>;
const secretData = (name: string): Record<string, string> => ((find('Secret', name) as { stringData?: Record<string, string> } | undefined)?.stringData ?? {});

describe('deploy/kubernetes', () => {
  it('kustomization.yaml lists every manifest', () => {
    const k = parse(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    expect([...k.resources].sort()).toEqual(files);
  });

  it('every object validates against the Kubernetes API schema of its kind', () => {
    const kinds = new Set<string>();
    for (const o of objects) {
      kinds.add(o.kind);
      if (o.kind === 'VolumeSnapshotClass') {
        // A CRD of the external snapshotter (not in the core API schemas): its required fields by hand.
        expect(o.apiVersion).toBe('snapshot.storage.k8s.io/v1');
        expect(['Delete', 'Retain']).toContain(o.deletionPolicy);
        expect(o.driver).toBe('polly.csi.dev');
        continue;
      }
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      expect(Model, `${o.file}: ${o.apiVersion} ${o.kind} has no schema here`).toBeDefined();
      const { file: _file, ...doc } = o;
      expect(() => new Model!(doc as never).validate(), `${o.file}: ${o.kind} ${o.metadata.name}`).not.toThrow();
    }
    for (const kind of ['Namespace', 'Secret', 'Service', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'PersistentVolume', 'PersistentVolumeClaim', 'StatefulSet', 'Deployment', 'DaemonSet', 'CSIDriver', 'StorageClass', 'VolumeSnapshotClass']) {
      expect(kinds, kind).toContain(kind);
    }
  });

  it('the schemas catch a malformed object (the check is real)', () => {
    const broken = structuredClone(find('DaemonSet', 'polly-node')) as unknown as Workload;
    (broken.spec.template.spec.containers[0] as unknown as { imagePullPolicy: string }).imagePullPolicy = 'Sometimes';
    const { file: _file, ...doc } = broken as unknown as Obj & { file: string };
    expect(() => new DaemonSet(doc as never).validate()).toThrow(/imagePullPolicy/);
  });

  it('namespaced objects live in the polly namespace, which is created', () => {
    expect(find('Namespace', NS)).toBeDefined();
    for (const o of objects) {
      if (CLUSTER_SCOPED.has(o.kind)) expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBeUndefined();
      else expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe(NS);
    }
  });

  it('workloads name only Secrets, keys, ConfigMaps, claims, accounts and volumes that exist', () => {
    const refs = new Set<string>();
    for (const w of workloads) {
      const pod = w.spec.template.spec;
      expect(w.spec.selector.matchLabels).toEqual(w.spec.template.metadata.labels);
      if (pod.serviceAccountName) expect(find('ServiceAccount', pod.serviceAccountName), pod.serviceAccountName).toBeDefined();
      const volumes = new Set((pod.volumes ?? []).map((v) => v.name));
      for (const v of pod.volumes ?? []) {
        if (v.configMap) expect(find('ConfigMap', v.configMap.name), v.configMap.name).toBeDefined();
        if (v.persistentVolumeClaim) expect(find('PersistentVolumeClaim', v.persistentVolumeClaim.claimName)).toBeDefined();
        if (v.secret) refs.add(v.secret.secretName);
      }
      for (const c of pod.containers) {
        for (const m of c.volumeMounts ?? []) expect(volumes, `${w.metadata.name}/${c.name} mounts ${m.name}`).toContain(m.name);
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          if (!ref) continue;
          refs.add(ref.name);
          if (OPERATOR_SECRETS.has(ref.name)) continue;
          expect(Object.keys(secretData(ref.name)), `${w.metadata.name}/${c.name} ${e.name} → ${ref.name}.${ref.key}`).toContain(ref.key);
        }
      }
    }
    for (const name of refs) if (!OPERATOR_SECRETS.has(name)) expect(find('Secret', name), name).toBeDefined();
    // The claim binds the PersistentVolume made for it.
    const pvc = find('PersistentVolumeClaim', 'polly-postgres') as unknown as { spec: { volumeName: string; storageClassName: string } };
    const pv = find('PersistentVolume', pvc.spec.volumeName) as unknown as { spec: { storageClassName: string } };
    expect(pv.spec.storageClassName).toBe(pvc.spec.storageClassName);
    expect(find('StorageClass', pvc.spec.storageClassName)).toBeDefined();
  });

  it('RBAC bindings name accounts and roles that exist', () => {
    for (const b of [...all('ClusterRoleBinding'), ...all('RoleBinding')] as unknown as Array<Obj & { subjects: Array<{ name: string; namespace: string }>; roleRef: { kind: string; name: string } }>) {
      expect(find(b.roleRef.kind, b.roleRef.name), `${b.metadata.name} → ${b.roleRef.name}`).toBeDefined();
      for (const s of b.subjects) expect(find('ServiceAccount', s.name)?.metadata.namespace).toBe(s.namespace);
    }
  });

  it('each Service selects a workload and its named target port', () => {
    for (const s of all('Service') as unknown as Array<Obj & { spec: { selector: Record<string, string>; ports: Array<{ port: number; targetPort: string }> } }>) {
      const w = workloads.find((x) => Object.entries(s.spec.selector).every(([k, v]) => x.spec.template.metadata.labels[k] === v));
      expect(w, `Service ${s.metadata.name} selects nothing`).toBeDefined();
      const ports = w!.spec.template.spec.containers.flatMap((c) => c.ports ?? []);
      for (const p of s.spec.ports) expect(ports.map((x) => x.name), `Service ${s.metadata.name}`).toContain(p.targetPort);
    }
  });

  it('the agents call the controller Service, and the database URL names the PostgreSQL Service and password', () => {
    const serviceUrl = (url: string) => {
      const u = new URL(url);
      const [name, namespace] = u.hostname.split('.');
      const svc = find('Service', name ?? '') as unknown as (Obj & { spec: { ports: Array<{ port: number }> } }) | undefined;
      expect(svc?.metadata.namespace, `${url}: no Service ${name}`).toBe(namespace);
      expect(svc!.spec.ports.map((p) => p.port)).toContain(Number(u.port));
      return u;
    };
    const agent = find('DaemonSet', 'polly-node') as unknown as Workload;
    const url = agent.spec.template.spec.containers[0]!.env!.find((e) => e.name === 'POLLY_URL')!.value!;
    serviceUrl(url);
    const db = serviceUrl(secretData('polly-server').databaseUrl!);
    expect(decodeURIComponent(db.password)).toBe(secretData('polly-postgres').password);
  });

  it('the node plugin is a privileged DaemonSet with the registrar, resolving cluster DNS from the host network', () => {
    const ds = find('DaemonSet', 'polly-node') as unknown as Workload;
    const pod = ds.spec.template.spec;
    const agent = pod.containers.find((c) => c.name === 'polly-agent')!;
    expect(agent.args?.slice(0, 3)).toEqual(['agent', '--csi-socket', '/csi/csi.sock']);
    expect(agent.securityContext?.privileged).toBe(true);
    expect(pod.containers.map((c) => c.image)).toEqual(expect.arrayContaining([expect.stringMatching(/csi-node-driver-registrar/)]));
    const registrar = pod.containers.find((c) => /registrar/.test(c.image))!;
    expect(registrar.args).toContain('--kubelet-registration-path=/var/lib/kubelet/plugins/polly.csi.dev/csi.sock');
    if (pod.hostNetwork) expect(pod.dnsPolicy).toBe('ClusterFirstWithHostNet');
  });

  it('the controller: secrets from the Secret, a config that loads, one replica on its node-local pool', () => {
    const deploy = find('Deployment', 'polly-controller') as unknown as Workload;
    const polly = deploy.spec.template.spec.containers.find((c) => c.name === 'polly')!;
    const env = Object.fromEntries((polly.env ?? []).map((e) => [e.name, e.valueFrom?.secretKeyRef?.name ?? e.value]));
    expect(env.POLLY_ADMIN_TOKEN).toBe('polly-server');
    expect(env.POLLY_DATABASE_URL).toBe('polly-server');
    const text = (find('ConfigMap', 'polly-config') as unknown as { data: Record<string, string> }).data['config.yml']!;
    const doc = parse(text) as Record<string, unknown>;
    expect(Object.keys(doc)).not.toEqual(expect.arrayContaining(['databaseUrl']));
    expect(text).not.toMatch(/postgres:\/\/|password|adminToken/i);
    const config = loadConfig({ document: doc, env: { POLLY_DATABASE_URL: secretData('polly-server').databaseUrl!, POLLY_ADMIN_TOKEN: secretData('polly-server').adminToken! } });
    expect(config.csi.map((c) => c.endpoint)).toEqual(['unix:///csi/csi.sock']);
    const nodeLocal = config.pools.filter((p) => ['btrfs', 'loopblock', 'local'].includes(p.driver));
    if (nodeLocal.length > 0) {
      // Two processes must never share one node-local pool: one replica, replaced (not rolled) on update.
      expect(deploy.spec.replicas).toBe(1);
      expect(deploy.spec.strategy?.type).toBe('Recreate');
    }
    for (const c of deploy.spec.template.spec.containers.filter((x) => /csi-/.test(x.image))) expect(c.args).toContain('--csi-address=/csi/csi.sock');
  });

  it('StorageClasses use the CSI driver and Secrets in the polly namespace; the image is what build.sh makes', () => {
    const driver = find('CSIDriver', 'polly.csi.dev');
    expect(driver).toBeDefined();
    const classes = all('StorageClass') as unknown as Array<Obj & { provisioner: string; parameters: Record<string, string> }>;
    // PostgreSQL's class binds the hand-made local PersistentVolume; every other one is Polly's.
    expect(classes.filter((sc) => sc.provisioner !== 'polly.csi.dev').map((sc) => sc.metadata.name)).toEqual(['polly-postgres-local']);
    for (const sc of classes.filter((x) => x.provisioner === 'polly.csi.dev')) {
      for (const [k, v] of Object.entries(sc.parameters)) if (k.endsWith('-secret-namespace')) expect(v, k).toBe(NS);
      expect(sc.parameters.profile).toBeTruthy();
    }
    const build = readFileSync(join(ROOT, 'deploy/image/build.sh'), 'utf8');
    expect(build).toContain('tag="polly:$version"');
    const images = workloads.flatMap((w) => w.spec.template.spec.containers.map((c) => c.image)).filter((i) => i.startsWith('polly'));
    expect(new Set(images)).toEqual(new Set([`polly:${VERSION}`]));
  });
});

describe('deploy/nomad', () => {
  /** Parsed by HashiCorp's own HCL parser (compiled to WebAssembly), as Nomad reads it. */
  type Block = Record<string, unknown>;
  const job = async (file: string): Promise<Block> => {
    const doc = (await parseHcl(file, readFileSync(join(ROOT, 'deploy/nomad', file), 'utf8'))) as { job: Record<string, Block[]> };
    const [only] = Object.values(doc.job);
    return only![0]!;
  };
  const first = (b: Block, key: string): Block => (b[key] as Block[])[0]!;
  /** A labelled block (`group "node" {…}`): the first one under `key`. */
  const named = (b: Block, key: string): Block => (Object.values(b[key] as Record<string, Block[]>)[0] as Block[])[0]!;
  const taskOf = (j: Block) => named(named(j, 'group'), 'task');

  it('the node plugin is a system job with a privileged docker task serving the node plugin', async () => {
    const j = await job('polly-node.nomad.hcl');
    expect(j.type).toBe('system');
    const task = taskOf(j);
    expect(task.driver).toBe('docker');
    const config = first(task, 'config');
    expect(config).toMatchObject({ image: `polly:${VERSION}`, privileged: true, network_mode: 'host' });
    expect((config.args as string[]).slice(0, 3)).toEqual(['agent', '--csi-socket', '/csi/csi.sock']);
    expect(first(task, 'csi_plugin')).toMatchObject({ id: 'polly', type: 'node', mount_dir: '/csi' });
  });

  it('the controller is a service job, the CSI controller plugin, with its secrets from Nomad Variables', async () => {
    const j = await job('polly-controller.nomad.hcl');
    expect(j.type).toBe('service');
    const group = named(j, 'group');
    expect(group.count).toBe(1);
    const task = taskOf(j);
    expect(task.driver).toBe('docker');
    expect(first(task, 'config')).toMatchObject({ image: `polly:${VERSION}`, args: ['server', '--config', '/local/config.yml'] });
    expect(first(task, 'csi_plugin')).toMatchObject({ id: 'polly', type: 'controller', mount_dir: '/csi' });
    const templates = task.template as Array<{ destination: string; data: string }>;
    const env = templates.find((t) => t.destination === 'secrets/polly.env')!;
    expect(env.data).toMatch(/POLLY_ADMIN_TOKEN=\{\{ \.adminToken \}\}/);
    expect(env.data).toMatch(/POLLY_DATABASE_URL=\{\{ \.databaseUrl \}\}/);
    // Its config (less the template's node name) loads with Polly's loader.
    const config = templates.find((t) => t.destination === 'local/config.yml')!.data.replace(/\{\{[^}]*\}\}/g, 'client-1');
    const loaded = loadConfig({ document: parse(config) as Record<string, unknown>, env: {} });
    expect(loaded.csi.map((c) => c.endpoint)).toEqual(['unix:///csi/csi.sock']);
  });

  it('volume.hcl names the plugin', async () => {
    const doc = (await parseHcl('volume.hcl', readFileSync(join(ROOT, 'deploy/nomad/volume.hcl'), 'utf8'))) as Block;
    expect(doc).toMatchObject({ type: 'csi', plugin_id: 'polly' });
  });
});
