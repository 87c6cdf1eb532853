# Polly's controller for Nomad: `polly server` serving REST v1 (registered in Consul as "polly") and CSI
# Identity + Controller as Nomad's controller plugin "polly". The admin token and the database URL come
# from Nomad Variables (never from the job file):
#
#   nomad var put nomad/jobs/polly-controller adminToken=$(openssl rand -hex 24) \
#     databaseUrl=postgres://polly:PASSWORD@db.internal:5432/polly
#
# Image: polly:0.1.0, built by deploy/image/build.sh and loaded on the clients (docker load) or pushed to
# your registry. One instance: the pool below is node-local (a btrfs filesystem on the client whose
# meta.polly_storage is "true"); with networked pools only, raise count and drop the constraint.
job "polly-controller" {
  datacenters = ["dc1"]
  type        = "service"

  group "controller" {
    count = 1

    constraint {
      attribute = "${meta.polly_storage}"
      value     = "true"
    }

    network {
      port "rest" { static = 7978 }
    }

    service {
      name     = "polly"
      port     = "rest"
      provider = "consul"
      check {
        type     = "http"
        path     = "/readyz"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "controller" {
      driver = "docker"
      config {
        image      = "polly:0.1.0"
        args       = ["server", "--config", "/local/config.yml"]
        ports      = ["rest"]
        privileged = true   # btrfs subvolumes and qgroups
        mount {
          type        = "bind"
          source      = "/srv/polly"
          target      = "/srv/polly"
          readonly    = false
          bind_options { propagation = "rshared" }
        }
      }

      template {
        destination = "secrets/polly.env"
        env         = true
        data        = <<-EOT
          {{ with nomadVar "nomad/jobs/polly-controller" }}
          POLLY_ADMIN_TOKEN={{ .adminToken }}
          POLLY_TOKEN={{ .adminToken }}
          POLLY_DATABASE_URL={{ .databaseUrl }}
          {{ end }}
        EOT
      }

      template {
        destination = "local/config.yml"
        data        = <<-EOT
          listen: 0.0.0.0:7978
          dataDir: /alloc/data
          csi:
            - endpoint: unix:///csi/csi.sock
          pools:
            - name: fast
              driver: btrfs
              path: /srv/polly/fast
              topology: {nodes: [{{ env "node.unique.name" }}]}
        EOT
      }

      csi_plugin {
        id        = "polly"
        type      = "controller"
        mount_dir = "/csi"
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
