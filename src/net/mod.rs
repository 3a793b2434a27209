//! Owning the two ports: `plan` (pure) and the rtnetlink adapter; OpenStack metadata reading (I/O).
