//! Role resolution: which NIC is public and which internal. Order: the Nova
//! device-role tag, then `interfaces.<role>.mac`, then `.name`; see the
//! module documentation of [`crate::net`]. Pure.

use std::fmt;

use serde::Serialize;

use super::metadata::Metadata;
use super::{NetError, NicList, Observed, ObservedLink};
use crate::config::{Interfaces, Port, PortSelector};

/// The two roles a NIC can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The floating-IP side.
    Public,
    /// The Kubernetes side.
    Internal,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Public => "public",
            Role::Internal => "internal",
        })
    }
}

/// How a NIC was chosen for its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Selection {
    /// By its Nova device-role tag.
    Tag,
    /// By `interfaces.<role>.mac`.
    Mac,
    /// By `interfaces.<role>.name`.
    Name,
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Selection::Tag => "by OpenStack device tag",
            Selection::Mac => "by MAC from the config",
            Selection::Name => "by name from the config",
        })
    }
}

/// One NIC with its role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assignment {
    /// The role.
    pub role: Role,
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// MAC address.
    pub mac: Option<crate::config::Mac>,
    /// How it was chosen.
    pub by: Selection,
}

impl fmt::Display for Assignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.role, nic_label(&self.name, self.mac))?;
        write!(f, " {}", self.by)
    }
}

/// The resolved roles; a role absent from `[interfaces]` is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Roles {
    /// The public NIC.
    pub public: Option<Assignment>,
    /// The internal NIC.
    pub internal: Option<Assignment>,
}

impl Roles {
    /// The role of the link with this index, if any.
    pub fn role_of(&self, index: u32) -> Option<Role> {
        self.iter().find(|a| a.index == index).map(|a| a.role)
    }
    /// The assignments, public first.
    pub fn iter(&self) -> impl Iterator<Item = &Assignment> {
        self.public.iter().chain(self.internal.iter())
    }
}

fn nic_label(name: &str, mac: Option<crate::config::Mac>) -> String {
    match mac {
        Some(m) => format!("{name} ({m})"),
        None => name.to_string(),
    }
}

/// Finds the NIC for each role listed in `ifs`.
pub fn resolve(
    ifs: &Interfaces,
    observed: &Observed,
    meta: Option<&Metadata>,
) -> Result<Roles, NetError> {
    let wanted = usize::from(ifs.public.is_some()) + usize::from(ifs.internal.is_some());
    let found = observed.nics().count();
    if found < wanted {
        return Err(NetError::MissingNic {
            expected: wanted,
            found,
            seen: NicList::of(observed),
        });
    }
    let public = ifs
        .public
        .as_ref()
        .map(|p| one(Role::Public, p, observed, meta))
        .transpose()?;
    let internal = ifs
        .internal
        .as_ref()
        .map(|p| one(Role::Internal, p, observed, meta))
        .transpose()?;
    if let (Some(p), Some(i)) = (&public, &internal) {
        if p.index == i.index {
            return Err(NetError::TwoRoles {
                nic: nic_label(&p.name, p.mac),
                public: p.by,
                internal: i.by,
            });
        }
    }
    Ok(Roles { public, internal })
}

/// Resolves one role: tag first, then the config's selector; both must agree.
fn one(
    role: Role,
    port: &Port,
    observed: &Observed,
    meta: Option<&Metadata>,
) -> Result<Assignment, NetError> {
    let seen = || NicList::of(observed);
    let by_tag = by_tag(role, observed, meta)?;
    let by_config = match &port.select {
        PortSelector::Mac(mac) => Some((
            observed
                .nics()
                .find(|l| l.mac == Some(*mac))
                .ok_or_else(|| NetError::MacNotFound {
                    role,
                    mac: *mac,
                    source_name: format!("interfaces.{role}.mac"),
                    seen: seen(),
                })?,
            Selection::Mac,
        )),
        PortSelector::Name(name) => Some((
            observed
                .nics()
                .find(|l| &l.name == name)
                .ok_or_else(|| NetError::NameNotFound {
                    role,
                    name: name.clone(),
                    seen: seen(),
                })?,
            Selection::Name,
        )),
        PortSelector::Tag => None,
    };
    let (link, by) = match (by_tag, by_config) {
        (Some(t), Some((c, how))) if t.index != c.index => {
            return Err(NetError::Disagree {
                role,
                by_tag: nic_label(&t.name, t.mac),
                by_config: nic_label(&c.name, c.mac),
                source_name: format!(
                    "interfaces.{role}.{}",
                    if how == Selection::Mac { "mac" } else { "name" }
                ),
            })
        }
        (Some(t), _) => (t, Selection::Tag),
        (None, Some(c)) => c,
        (None, None) => return Err(NetError::NoSelector { role, seen: seen() }),
    };
    Ok(Assignment {
        role,
        index: link.index,
        name: link.name.clone(),
        mac: link.mac,
        by,
    })
}

/// The NIC whose MAC is that of the one device tagged with the role.
fn by_tag<'a>(
    role: Role,
    observed: &'a Observed,
    meta: Option<&Metadata>,
) -> Result<Option<&'a ObservedLink>, NetError> {
    let Some(meta) = meta else { return Ok(None) };
    let macs = meta.tagged(&role.to_string());
    match macs.as_slice() {
        [] => Ok(None),
        [mac] => observed
            .nics()
            .find(|l| l.mac == Some(*mac))
            .map(Some)
            .ok_or_else(|| NetError::MacNotFound {
                role,
                mac: *mac,
                source_name: format!("the OpenStack device tagged {:?}", role.to_string()),
                seen: NicList::of(observed),
            }),
        many => Err(NetError::DuplicateTag {
            role,
            count: many.len(),
            macs: many
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}
