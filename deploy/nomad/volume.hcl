# nomad volume create deploy/nomad/volume.hcl
id        = "pg-data"
name      = "pg-data"
type      = "csi"
plugin_id = "polly"

capacity_min = "10GiB"
capacity_max = "10GiB"

capability {
  access_mode     = "single-node-writer"
  attachment_mode = "file-system"
}

parameters {
  profile = "default"
}

secrets {
  pollyToken = "REPLACE-WITH-THE-NOMAD-SERVICE-TOKEN"
}
