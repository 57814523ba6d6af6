// SPDX-License-Identifier: GPL-2.0
//! cakemt: CAKE for many hosts. A packet scheduler that gives every host of
//! an ISP its own tin (bandwidth, flow isolation, COBALT) inside one qdisc.
//!
//! This is the module's crate root: it registers the `cakemt` qdisc.

use kernel::prelude::*;

mod config;
mod glue;
mod qdisc;
pub mod sched;

use glue::qdisc::{Adapter, OpsTable, Registration};

module! {
    type: CakemtModule,
    name: "cakemt",
    author: "cakemt developers",
    description: "CAKE with per-host tins and a calendar-queue scheduler",
    license: "GPL",
}

static CAKEMT_OPS: OpsTable = OpsTable::new(Adapter::<qdisc::Cakemt>::ops());

struct CakemtModule {
    _qdisc: Registration,
}

impl kernel::Module for CakemtModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let qdisc = Registration::register(&CAKEMT_OPS, module)?;
        pr_info!("cakemt: qdisc registered\n");
        Ok(Self { _qdisc: qdisc })
    }
}
