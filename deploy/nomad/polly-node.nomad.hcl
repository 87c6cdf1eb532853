# Polly's CSI node plugin for Nomad: the agent on every client (a `system` job), in a privileged docker
# task (it mounts, attaches loop devices, runs mkfs and fences itself), serving CSI Node as plugin "polly".
# It finds the controller through Consul and acts with the token of the Nomad cluster's Polly service:
#
#   polly service create nomad-prod && nomad var put nomad/jobs/polly-node token=$(polly service token nomad-prod)
#
# The clients need `plugin "docker" { config { allow_privileged = true } }` in their Nomad config.
job "polly-node" {
  datacenters = ["dc1"]
  type        = "system"

  group "node" {
    task "node" {
      driver = "docker"
      config {
        image        = "polly:0.1.0"
        args         = ["agent", "--csi-socket", "/csi/csi.sock", "--state-dir", "/var/lib/polly/agent"]
        privileged   = true
        network_mode = "host"
        mount {
          type     = "bind"
          source   = "/var/lib/polly"
          target   = "/var/lib/polly"
          readonly = false
          bind_options { propagation = "rshared" }
        }
        mount {
          type     = "bind"
          source   = "/srv/polly"
          target   = "/srv/polly"
          readonly = false
          bind_options { propagation = "rshared" }
        }
        mount {
          type   = "bind"
          source = "/dev"
          target = "/dev"
        }
      }

      env {
        POLLY_NODE_ID = "${node.unique.name}"
      }

      template {
        destination = "secrets/polly.env"
        env         = true
        data        = <<-EOT
          POLLY_URL={{ range $i, $s := service "polly" }}{{ if $i }},{{ end }}http://{{ $s.Address }}:{{ $s.Port }}{{ end }}
          {{ with nomadVar "nomad/jobs/polly-node" }}POLLY_TOKEN={{ .token }}{{ end }}
        EOT
      }

      csi_plugin {
        id             = "polly"
        type           = "node"
        mount_dir      = "/csi"
        health_timeout = "2m"
      }

      resources {
        cpu    = 200
        memory = 128
      }
    }
  }
}
