# parvis on OpenStack with Terraform: security group, two ports, floating IP
# and the instance (user data, config drive).
#
# The provider's `network` block has no device `tag`, so the config names the
# ports by MAC: parvis.toml.tftpl gets both ports' MAC addresses, and every
# site-specific value (name, admin allow-list, backends) from the variables
# below, so the security group and admin.allow always agree.
# tests/terraform.rs renders the template with sample values and checks the
# result with `parvis check`.
# See docs/deploy-openstack.md for what each piece is for.

terraform {
  required_providers {
    openstack = {
      source  = "terraform-provider-openstack/openstack"
      version = "~> 2.1"
    }
  }
}

# Credentials come from the usual OS_* variables (openrc / clouds.yaml).
provider "openstack" {}

variable "image" {
  description = "Glance image uploaded from target/image/parvis.qcow2"
  default     = "parvis-0.1.0"
}
variable "flavor" {
  default = "b2-7"
}
variable "key_pair" {
  description = "Nova key pair whose public key is installed for user parvis"
}
variable "public_network" {
  description = "Network behind the router that holds the floating IPs"
}
variable "internal_network" {
  description = "The Kubernetes nodes' network"
}
variable "external_network" {
  description = "Where floating IPs come from (Ext-Net on OVH)"
  default     = "Ext-Net"
}
variable "admin_cidr" {
  description = "Who may reach the admin UI and SSH: the security group rules and admin.allow"
}
variable "appliance_name" {
  description = "Instance name and [appliance] name (UI, logs, metrics)"
  default     = "parvis-1"
}
variable "https_servers" {
  description = "Ingress nodes' TLS ports (ADDRESS:PORT), PROXY v2"
  type        = list(string)
}
variable "http_servers" {
  description = "Ingress nodes' HTTP ports (ADDRESS:PORT), PROXY v1"
  type        = list(string)
}
variable "config_template" {
  description = "The parvis config template given as user data (gets public_mac, internal_mac)"
  default     = "parvis.toml.tftpl"
}
variable "forward_ports" {
  description = "TCP ports of [[forward]] entries"
  type        = list(number)
  default     = []
}

data "openstack_networking_network_v2" "public" {
  name = var.public_network
}
data "openstack_networking_network_v2" "internal" {
  name = var.internal_network
}

resource "openstack_networking_secgroup_v2" "edge" {
  name        = "parvis-edge"
  description = "In front of the parvis public port"
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

resource "openstack_networking_secgroup_rule_v2" "forward" {
  for_each          = toset([for p in var.forward_ports : tostring(p)])
  security_group_id = openstack_networking_secgroup_v2.edge.id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "tcp"
  port_range_min    = tonumber(each.value)
  port_range_max    = tonumber(each.value)
  remote_ip_prefix  = "0.0.0.0/0"
}

# Path-MTU discovery needs ICMP "fragmentation needed" to get through.
resource "openstack_networking_secgroup_rule_v2" "icmp" {
  security_group_id = openstack_networking_secgroup_v2.edge.id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "icmp"
  remote_ip_prefix  = "0.0.0.0/0"
}

resource "openstack_networking_port_v2" "public" {
  name               = "parvis-public"
  network_id         = data.openstack_networking_network_v2.public.id
  security_group_ids = [openstack_networking_secgroup_v2.edge.id]
}

resource "openstack_networking_port_v2" "internal" {
  name       = "parvis-internal"
  network_id = data.openstack_networking_network_v2.internal.id

  # Only for [[forward]] with masquerade = false or [egress]: the port then
  # carries packets for and from addresses that are not its own. Never give
  # a port in the `default` security group an allowed address of 0.0.0.0/0:
  # the group's "from members of this group" rules would then admit every
  # address to every instance in it. Turn port security off on this port
  # instead (parvis's nftables filter it), see docs/deploy-openstack.md:
  # port_security_enabled = false
  # no_security_groups    = true
  # The Kubernetes nodes must also route replies back via this port's address.
}

resource "openstack_networking_floatingip_v2" "edge" {
  pool = var.external_network
}

resource "openstack_networking_floatingip_associate_v2" "edge" {
  floating_ip = openstack_networking_floatingip_v2.edge.address
  port_id     = openstack_networking_port_v2.public.id
}

resource "openstack_compute_instance_v2" "parvis" {
  name         = var.appliance_name
  image_name   = var.image
  flavor_name  = var.flavor
  key_pair     = var.key_pair
  config_drive = true
  user_data = templatefile(var.config_template, {
    name          = var.appliance_name
    public_mac    = openstack_networking_port_v2.public.mac_address
    internal_mac  = openstack_networking_port_v2.internal.mac_address
    admin_allow   = [var.admin_cidr]
    https_servers = var.https_servers
    http_servers  = var.http_servers
  })

  network {
    port = openstack_networking_port_v2.public.id
  }
  network {
    port = openstack_networking_port_v2.internal.id
  }
}

output "floating_ip" {
  value = openstack_networking_floatingip_v2.edge.address
}
output "admin_url" {
  value = "https://${openstack_networking_floatingip_v2.edge.address}:8443/"
}
output "ssh" {
  value = "ssh parvis@${openstack_networking_floatingip_v2.edge.address}"
}
