/** The store's schema as numbered migrations; `schema_version` records which ones were applied. */

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

const STATUS_CHECK = `status IN ('created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead')`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'containers, volumes, container volumes, events',
    sql: `
CREATE TABLE containers (
  id TEXT PRIMARY KEY CHECK (length(id) = 64 AND id NOT GLOB '*[^0-9a-f]*'),
  name TEXT NOT NULL UNIQUE,
  image TEXT NOT NULL,
  image_id TEXT NOT NULL,
  created TEXT NOT NULL,
  status TEXT NOT NULL CHECK (${STATUS_CHECK}),
  pid INTEGER NOT NULL DEFAULT 0,
  exit_code INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  started_at TEXT,
  finished_at TEXT,
  oom_killed INTEGER NOT NULL DEFAULT 0,
  restart_count INTEGER NOT NULL DEFAULT 0,
  monitor_pid INTEGER NOT NULL DEFAULT 0,
  config TEXT NOT NULL DEFAULT '{}',
  host_config TEXT NOT NULL DEFAULT '{}',
  labels TEXT NOT NULL DEFAULT '{}',
  mounts TEXT NOT NULL DEFAULT '[]',
  log_path TEXT NOT NULL,
  bundle_dir TEXT NOT NULL,
  snapshot_key TEXT NOT NULL DEFAULT '',
  driver TEXT NOT NULL DEFAULT '',
  platform TEXT NOT NULL DEFAULT 'linux',
  updated TEXT NOT NULL
);
CREATE INDEX containers_image_id ON containers(image_id);
CREATE INDEX containers_created ON containers(created);

CREATE TABLE volumes (
  name TEXT PRIMARY KEY,
  driver TEXT NOT NULL DEFAULT 'local',
  mountpoint TEXT NOT NULL,
  options TEXT NOT NULL DEFAULT '{}',
  labels TEXT NOT NULL DEFAULT '{}',
  created TEXT NOT NULL,
  anonymous INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE container_volumes (
  container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
  volume_name TEXT NOT NULL REFERENCES volumes(name),
  destination TEXT NOT NULL,
  rw INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (container_id, destination)
);
CREATE INDEX container_volumes_volume ON container_volumes(volume_name);

CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ns INTEGER NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('container', 'image', 'volume', 'network', 'daemon')),
  action TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  attributes TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_time ON events(time_ns);
`,
  },
  {
    version: 2,
    description: 'restart policy bookkeeping: manual stop, back-off',
    // manual_stop: 0 none, 1 a user's signal (Docker's HasBeenManuallyStopped), 2 a user's stop or
    // kill that also cancels the restart; restart_timeout_ms: the back-off of the next restart
    sql: `
ALTER TABLE containers ADD COLUMN manual_stop INTEGER NOT NULL DEFAULT 0;
ALTER TABLE containers ADD COLUMN restart_timeout_ms INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    version: 3,
    description: 'networks, endpoints, address leases, published ports',
    sql: `
CREATE TABLE networks (
  id TEXT PRIMARY KEY CHECK (length(id) = 64 AND id NOT GLOB '*[^0-9a-f]*'),
  name TEXT NOT NULL UNIQUE,
  driver TEXT NOT NULL,
  created TEXT NOT NULL,
  config TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE endpoints (
  container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
  network_id TEXT NOT NULL REFERENCES networks(id),
  position INTEGER NOT NULL DEFAULT 0,
  request TEXT NOT NULL DEFAULT '{}',
  state TEXT,
  PRIMARY KEY (container_id, network_id)
);
CREATE INDEX endpoints_network ON endpoints(network_id);

CREATE TABLE leases (
  network_id TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
  address TEXT NOT NULL,
  container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
  PRIMARY KEY (network_id, address)
);
CREATE INDEX leases_container ON leases(container_id);

CREATE TABLE ports (
  proto TEXT NOT NULL,
  host_ip TEXT NOT NULL,
  host_port INTEGER NOT NULL,
  container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
  container_port INTEGER NOT NULL,
  PRIMARY KEY (proto, host_ip, host_port)
);
CREATE INDEX ports_container ON ports(container_id);
`,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;
