# Polly as a Nomad CSI plugin: the controller (a Polly server's CSI endpoint) and the node plugin (the
# agent) on every client. Volumes are then registered with `nomad volume create` using plugin_id "polly"
# and secrets { pollyToken = "<token of the Nomad cluster's service>" }.
job "polly-csi" {
  datacenters = ["dc1"]

  group "controller" {
    task "controller" {
      driver = "exec"
      config {
        command = "/opt/polly/bin/polly.js"
        args    = ["server", "--config", "/etc/polly/config.yml"]
      }
      env {
        POLLY_CSI_ENDPOINT = "unix:///csi/csi.sock"
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

  group "nodes" {
    task "node" {
      driver = "exec"
      config {
        command = "/opt/polly/bin/polly.js"
        args    = ["agent", "--csi-socket", "/csi/csi.sock"]
      }
      env {
        POLLY_URL     = "http://polly.service.consul:7978"
        POLLY_NODE_ID = "${node.unique.name}"
      }
      template {
        data        = "POLLY_TOKEN={{ with nomadVar \"nomad/jobs/polly-csi\" }}{{ .token }}{{ end }}"
        destination = "secrets/token.env"
        env         = true
      }
      csi_plugin {
        id        = "polly"
        type      = "node"
        mount_dir = "/csi"
      }
      resources {
        cpu    = 200
        memory = 128
      }
    }
  }
}
