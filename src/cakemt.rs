// SPDX-License-Identifier: GPL-2.0
//! cakemt: CAKE for many hosts. A packet scheduler that gives every host of
//! an ISP its own tin (bandwidth, flow isolation, COBALT) inside one qdisc.
//! (A cakemt tin is one subscriber host, not one of CAKE's diffserv tins.)
//!
//! This is the module's crate root: it registers the `cakemt` qdisc.

use kernel::prelude::*;

mod glue;
mod qdisc;
pub mod sched;

use glue::class::{ClassAdapter, ClassOpsTable};
use glue::qdisc::{Adapter, OpsTable, Registration};

module! {
    type: CakemtModule,
    name: "cakemt",
    author: "cakemt developers",
    description: "CAKE with per-host tins and a calendar-queue scheduler",
    license: "GPL",
}

static CAKEMT_CLASS_OPS: ClassOpsTable = ClassOpsTable::new(ClassAdapter::<qdisc::Cakemt>::ops());
static CAKEMT_OPS: OpsTable = OpsTable::new(Adapter::<qdisc::Cakemt>::ops());

struct CakemtModule {
    _qdisc: Registration,
}

impl kernel::Module for CakemtModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let qdisc = Registration::register(&CAKEMT_OPS, &CAKEMT_CLASS_OPS, module)?;
        pr_info!("qdisc registered\n");
        Ok(Self { _qdisc: qdisc })
    }
}
