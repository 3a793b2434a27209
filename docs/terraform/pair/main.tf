# An active/standby pair of parvis appliances on OpenStack (docs/ha.md):
# two instances in an anti-affinity server group, two VIP ports without a
# device (their fixed addresses are the VIPs), each appliance's ports allowed
# to use the VIPs as exact /32 address pairs, the floating IP on the public
# VIP port, VRRP and the config sync admitted between the two appliances
# only, and, for ha_mode = "neutron", an application credential restricted
# to reading and moving floating IPs.
#
# Both appliances get the very same config (parvis-pair.toml.tftpl): each
# finds itself by the address on its internal port. tests/terraform.rs
# renders the template in both modes and checks it with `parvis check`.

terraform {
  required_providers {
    openstack = {
      source  = "terraform-provider-openstack/openstack"
      version = "~> 2.1"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

# Credentials come from the usual OS_* variables (openrc / clouds.yaml).
provider "openstack" {}

variable "image" {
  default = "parvis-0.1.0"
}
variable "flavor" {
  default = "b2-7"
}
variable "key_pair" {}
variable "public_network" {
  description = "Network behind the router that holds the floating IPs"
}
variable "public_prefix_len" {
  default = 24
}
variable "internal_network" {
  description = "The Kubernetes nodes' network"
}
variable "internal_cidr" {
  description = "The Kubernetes nodes' subnet (they use the internal VIP as gateway)"
}
variable "internal_prefix_len" {
  default = 24
}
variable "external_network" {
  default = "Ext-Net"
}
variable "admin_cidr" {}
variable "appliance_name" {
  default = "parvis"
}
variable "https_servers" {
  type = list(string)
}
variable "http_servers" {
  type = list(string)
}
variable "ha_mode" {
  description = "\"vrrp\": gratuitous ARP moves the VIPs (ML2/OVS, Octavia-like clouds); \"neutron\": the new master moves the floating IP through the API (OVH Gateway / DVR, see docs/ha.md for the test)"
  default     = "neutron"
}
variable "auth_url" {
  description = "Keystone v3 (ha_mode = \"neutron\"), e.g. https://auth.cloud.ovh.net/v3"
  default     = ""
}

data "openstack_networking_network_v2" "public" {
  name = var.public_network
}
data "openstack_networking_network_v2" "internal" {
  name = var.internal_network
}

# The pair's shared secret (sync channel): same on both, from one config.
resource "random_password" "ha_key" {
  length  = 48
  special = false
}

# --- Security groups -------------------------------------------------------

resource "openstack_networking_secgroup_v2" "edge" {
  name = "parvis-pair-edge"
}
resource "openstack_networking_secgroup_rule_v2" "web" {
  for_each          = toset(["80", "443"])
  security_group_id = openstack_networking_secgroup_v2.edge.id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "tcp"
  port_range_min    = tonumber(each.value)
  port_range_max    = tonumber(each.value)
  remote_ip_prefix  = "0.0.0.0/0"
}
resource "openstack_networking_secgroup_rule_v2" "admin" {
  for_each          = toset(["22", "8443"])
  security_group_id = openstack_networking_secgroup_v2.edge.id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "tcp"
  port_range_min    = tonumber(each.value)
  port_range_max    = tonumber(each.value)
  remote_ip_prefix  = var.admin_cidr
}

# Internal side: VRRP (IP protocol 112), the config sync (TCP 7443) and
# conntrackd (UDP 3780) only from the other member of this group, i.e. the
# other appliance; every other port from the Kubernetes subnet (they route
# through the internal VIP). parvis's own firewall also admits the three
# only from the peer's address.
resource "openstack_networking_secgroup_v2" "pair" {
  name = "parvis-pair-internal"
}
resource "openstack_networking_secgroup_rule_v2" "vrrp" {
  security_group_id = openstack_networking_secgroup_v2.pair.id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "112"
  remote_group_id   = openstack_networking_secgroup_v2.pair.id
}
resource "openstack_networking_secgroup_rule_v2" "sync" {
  for_each          = { tcp = 7443, udp = 3780 }
  security_group_id = openstack_networking_secgroup_v2.pair.id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = each.key
  port_range_min    = each.value
  port_range_max    = each.value
  remote_group_id   = openstack_networking_secgroup_v2.pair.id
}
resource "openstack_networking_secgroup_rule_v2" "k8s" {
  for_each = {
    tcp_low  = ["tcp", 1, 7442], tcp_high = ["tcp", 7444, 65535],
    udp_low  = ["udp", 1, 3779], udp_high = ["udp", 3781, 65535],
  }
  security_group_id = openstack_networking_secgroup_v2.pair.id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = each.value[0]
  port_range_min    = each.value[1]
  port_range_max    = each.value[2]
  remote_ip_prefix  = var.internal_cidr
}
resource "openstack_networking_secgroup_rule_v2" "k8s_icmp" {
  security_group_id = openstack_networking_secgroup_v2.pair.id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "icmp"
  remote_ip_prefix  = var.internal_cidr
}

# --- Ports -----------------------------------------------------------------

# The VIPs: ports with no device, so Neutron never gives their addresses
# to anything else. The floating IP is associated with the public one.
resource "openstack_networking_port_v2" "vip_public" {
  name       = "parvis-vip-public"
  network_id = data.openstack_networking_network_v2.public.id
}
resource "openstack_networking_port_v2" "vip_internal" {
  name       = "parvis-vip-internal"
  network_id = data.openstack_networking_network_v2.internal.id
}

locals {
  nodes        = ["a", "b"]
  vip_public   = openstack_networking_port_v2.vip_public.all_fixed_ips[0]
  vip_internal = openstack_networking_port_v2.vip_internal.all_fixed_ips[0]
}

# Each appliance's own ports may also send from the VIP: an exact /32 pair
# (ML2/OVN serves a floating IP only for a bound port or such a "virtual" /32).
resource "openstack_networking_port_v2" "public" {
  for_each           = toset(local.nodes)
  name               = "parvis-${each.key}-public"
  network_id         = data.openstack_networking_network_v2.public.id
  security_group_ids = [openstack_networking_secgroup_v2.edge.id]
  allowed_address_pairs {
    ip_address = "${local.vip_public}/32"
  }
}
resource "openstack_networking_port_v2" "internal" {
  for_each           = toset(local.nodes)
  name               = "parvis-${each.key}-internal"
  network_id         = data.openstack_networking_network_v2.internal.id
  security_group_ids = [openstack_networking_secgroup_v2.pair.id]
  allowed_address_pairs {
    ip_address = "${local.vip_internal}/32"
  }
}

resource "openstack_networking_floatingip_v2" "edge" {
  pool    = var.external_network
  port_id = openstack_networking_port_v2.vip_public.id
  # In the "neutron" mode the appliances move it to their own public port:
  # Terraform must not move it back.
  lifecycle {
    ignore_changes = [port_id, fixed_ip]
  }
}

# --- The failover's application credential ("neutron" mode) ---------------

# Restricted by access rules to the two calls the failover makes; Keystone
# itself needs no rule to issue the token. The role is the project's member
# role (Neutron's default policy for update_floatingip on the project's own
# floating IP and port). Its secret lands in Terraform's state (sensitive).
resource "openstack_identity_application_credential_v3" "ha" {
  count       = var.ha_mode == "neutron" ? 1 : 0
  name        = "${var.appliance_name}-ha-failover"
  description = "parvis pair: point the floating IP at the VRRP master's port"
  roles       = ["member"]
  access_rules {
    service = "network"
    method  = "GET"
    path    = "/v2.0/floatingips/*"
  }
  access_rules {
    service = "network"
    method  = "PUT"
    path    = "/v2.0/floatingips/*"
  }
}

# --- The two appliances ----------------------------------------------------

resource "openstack_compute_servergroup_v2" "pair" {
  name     = "${var.appliance_name}-pair"
  policies = ["anti-affinity"]
}

resource "openstack_compute_instance_v2" "node" {
  for_each     = toset(local.nodes)
  name         = "${var.appliance_name}-${each.key}"
  image_name   = var.image
  flavor_name  = var.flavor
  key_pair     = var.key_pair
  config_drive = true
  scheduler_hints {
    group = openstack_compute_servergroup_v2.pair.id
  }
  # The same text for both nodes.
  user_data = templatefile("${path.module}/parvis-pair.toml.tftpl", {
    name                 = var.appliance_name
    admin_allow          = [var.admin_cidr]
    https_servers        = var.https_servers
    http_servers         = var.http_servers
    vip_public           = "${local.vip_public}/${var.public_prefix_len}"
    vip_internal         = "${local.vip_internal}/${var.internal_prefix_len}"
    ha_key               = random_password.ha_key.result
    node_a_address       = openstack_networking_port_v2.internal["a"].all_fixed_ips[0]
    node_b_address       = openstack_networking_port_v2.internal["b"].all_fixed_ips[0]
    ha_mode              = var.ha_mode
    auth_url             = var.auth_url
    app_cred_id          = var.ha_mode == "neutron" ? openstack_identity_application_credential_v3.ha[0].id : ""
    app_cred_secret      = var.ha_mode == "neutron" ? openstack_identity_application_credential_v3.ha[0].secret : ""
    floating_ip_id       = openstack_networking_floatingip_v2.edge.id
    port_a               = openstack_networking_port_v2.public["a"].id
    port_b               = openstack_networking_port_v2.public["b"].id
  })

  network {
    port = openstack_networking_port_v2.public[each.key].id
  }
  network {
    port = openstack_networking_port_v2.internal[each.key].id
  }
}

output "floating_ip" {
  value = openstack_networking_floatingip_v2.edge.address
}
output "admin_urls" {
  value = { for k, p in openstack_networking_port_v2.public : k => "https://${p.all_fixed_ips[0]}:8443/ (from inside the project)" }
}
