//! Renders device health (CPU, memory): each polled value under its MIB object's own name
//! with the MIB's index labels (as snmp_exporter names what it walks), hrStorageAllocationUnits
//! from discovery, and the `wardflux_device_cpu_ratio` / `wardflux_device_memory_used_ratio`
//! summaries.
//!
//! Invariant: reads prepared label blocks and numbers only, like the rest of `metrics`.

use super::{family, sample_in as sample};
use crate::inventory::DeviceEntry;
use crate::mib::health::{cpu_ratio, memory_used_ratio, POLLED};

/// Health families of these devices; a family no device has is left out.
pub fn render_health(out: &mut String, devices: &[DeviceEntry]) {
    for (slot, p) in POLLED.iter().enumerate() {
        family(out, p.metric, "gauge", p.help, |out| {
            for d in devices {
                let (Some(inv), Some(vals)) = (&d.inventory, &d.values) else {
                    continue;
                };
                for (s, v) in inv.health.series.iter().zip(vals.health.iter()) {
                    if let (true, Some(v)) = (usize::from(s.polled) == slot, v) {
                        sample(out, p.metric, &d.device_labels, &s.labels, v);
                    }
                }
            }
        });
    }
    let name = "hrStorageAllocationUnits";
    let help =
        "The size, in bytes, of the data objects allocated from this pool - 1.3.6.1.2.1.25.2.3.1.4";
    family(out, name, "gauge", help, |out| {
        for d in devices {
            let Some(inv) = &d.inventory else { continue };
            for s in &inv.health.statics {
                sample(out, s.metric, &d.device_labels, &s.labels, s.value);
            }
        }
    });
    family(
        out,
        "wardflux_device_cpu_ratio",
        "gauge",
        "CPU busy ratio (0-1) per CPU: cpmCPUTotal5minRev (else cpmCPUTotal5min) of CISCO-PROCESS-MIB, or hrProcessorLoad (1-minute average) of HOST-RESOURCES-MIB; absent for values outside 0-100 %.",
        |out| {
            for d in devices {
                let (Some(inv), Some(vals)) = (&d.inventory, &d.values) else {
                    continue;
                };
                for c in &inv.health.cpus {
                    if let Some(r) = vals.health.get(c.value).copied().flatten().and_then(cpu_ratio) {
                        sample(out, "wardflux_device_cpu_ratio", &d.device_labels, &c.labels, r);
                    }
                }
            }
        },
    );
    family(
        out,
        "wardflux_device_memory_used_ratio",
        "gauge",
        "Used ratio (0-1) per memory pool: CISCO-ENHANCED-MEMPOOL-MIB (64-bit columns preferred) where the device has it, else CISCO-MEMORY-POOL-MIB, else HOST-RESOURCES-MIB hrStorage RAM rows.",
        |out| {
            for d in devices {
                let (Some(inv), Some(vals)) = (&d.inventory, &d.values) else {
                    continue;
                };
                for m in &inv.health.memory {
                    if let Some(r) = memory_used_ratio(m, &vals.health) {
                        sample(out, "wardflux_device_memory_used_ratio", &d.device_labels, &m.labels, r);
                    }
                }
            }
        },
    );
}
