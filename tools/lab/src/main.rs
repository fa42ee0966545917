//! wardflux-lab: build, fail, inspect and tear down a bank network in network namespaces from
//! a description file (see labs/bank.yml). A thin layer over the `wardflux_lab` library.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use wardflux_lab::{Description, Lab};

/// A bank network in network namespaces, built from one description (as root).
///
/// Every branch router is reached from this host only over its ISP uplinks (one veth per
/// uplink, the host side is the provider's end, routes with metrics, failover on loss of
/// carrier); switches behind a router are reached through it; HQ devices over a management
/// link. Lab addresses are 169.254.X.Y from a /24 that is free on this host, covered by an
/// `unreachable` route: after building, the tool checks with `ip route get` that a branch with
/// every uplink down is unreachable (never the host's default route), and refuses to run
/// otherwise.
#[derive(Parser)]
#[command(name = "wardflux-lab", version)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args)]
struct StateArg {
    /// The lab's directory: its state (lab-state.json), agent configs and logs.
    #[arg(long)]
    state: PathBuf,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build the lab of FILE, check it, and leave it running (stop it with `down`).
    Up {
        /// The description (YAML), e.g. labs/bank.yml.
        file: PathBuf,
        #[command(flatten)]
        state: StateArg,
    },
    /// Tear the lab down: processes, namespaces, host links, routes.
    Down {
        #[command(flatten)]
        state: StateArg,
    },
    /// Validate a description and print what it would build (no root needed).
    Validate { file: PathBuf },
    /// Cut a link: DEVICE:PORT (an ISP uplink fails at the provider's end; a cable at that
    /// port), or every uplink of --provider (at --site).
    Cut {
        #[command(flatten)]
        state: StateArg,
        #[command(flatten)]
        what: LinkArg,
    },
    /// Restore what `cut` cut (link up, its routes back).
    Restore {
        #[command(flatten)]
        state: StateArg,
        #[command(flatten)]
        what: LinkArg,
    },
    /// Fail the provider behind an uplink while the link stays up: DEVICE:PORT, or every
    /// uplink of --provider (at --site). The router's port keeps carrier (ifOperStatus up);
    /// nothing beyond the handoff answers, so its IP SLA probe fails and its BGP session ends
    /// within the hold time; traffic to the branch moves to its other uplinks.
    Blackhole {
        #[command(flatten)]
        state: StateArg,
        #[command(flatten)]
        what: LinkArg,
    },
    /// Undo `blackhole`: the provider answers again, routes over the uplink return.
    Unblackhole {
        #[command(flatten)]
        state: StateArg,
        #[command(flatten)]
        what: LinkArg,
    },
    /// Power a device off (its agents stop, its links go down) or on (agents restart, so
    /// sysUpTime starts from zero).
    Power {
        #[command(flatten)]
        state: StateArg,
        /// on or off
        #[arg(value_parser = ["on", "off"])]
        state_to: String,
        device: String,
    },
    /// Run the "no lab packet leaves the machine" check again on the running lab.
    Check {
        #[command(flatten)]
        state: StateArg,
    },
    /// Print the lab's devices, addresses, uplinks and cables.
    Show {
        #[command(flatten)]
        state: StateArg,
    },
    /// Write the exporter's `auths` and `targets` for the lab (labels site and role).
    Targets {
        #[command(flatten)]
        state: StateArg,
        /// Output file (mode 0600: it holds the lab's SNMP secrets); stdout when absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct LinkArg {
    /// DEVICE:PORT, e.g. BRANCH-RTR-01:isp0.
    endpoint: Option<String>,
    /// Every uplink of this provider (case-insensitive), e.g. Magti.
    #[arg(long, conflicts_with = "endpoint")]
    provider: Option<String>,
    /// With --provider: only at this site.
    #[arg(long, requires = "provider")]
    site: Option<String>,
}

fn links(lab: &Lab, what: &LinkArg) -> Result<Vec<(String, String)>> {
    if let Some(p) = &what.provider {
        let v = lab.provider_uplinks(p, what.site.as_deref());
        if v.is_empty() {
            bail!("no uplink of provider {p:?} in the lab");
        }
        return Ok(v);
    }
    let Some(e) = &what.endpoint else {
        bail!("say which link: DEVICE:PORT or --provider NAME");
    };
    let (d, p) = e
        .split_once(':')
        .with_context(|| format!("{e:?}: write DEVICE:PORT"))?;
    Ok(vec![(d.to_string(), p.to_string())])
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Up { file, state } => {
            let d = Description::load(&file)?;
            let t = std::time::Instant::now();
            let lab = Lab::build_in(&d, &state.state)?;
            eprintln!(
                "wardflux-lab: {} up in {:.1}s: {} devices in {} (checked: no lab packet leaves the machine)",
                d.name,
                t.elapsed().as_secs_f64(),
                d.nodes.len(),
                lab.prefix()
            );
            lab.detach();
        }
        Cmd::Down { state } => {
            let mut lab = Lab::open(&state.state)?;
            let plan = lab.plan().clone();
            lab.teardown();
            let left = Lab::leftovers(&plan);
            if !left.is_empty() {
                bail!("left behind: {}", left.join("; "));
            }
            eprintln!("wardflux-lab: {} torn down", plan.name);
        }
        Cmd::Validate { file } => {
            let d = Description::load(&file)?;
            let p = wardflux_lab::Plan::new(&d, 0)?;
            println!(
                "{}: valid: {} devices, {} uplinks and management links, {} cables",
                file.display(),
                p.nodes.len(),
                p.access.len(),
                p.cables.len()
            );
        }
        Cmd::Cut { state, what } => {
            let mut lab = Lab::open(&state.state)?;
            for (d, p) in links(&lab, &what)? {
                lab.cut(&d, &p)?;
                eprintln!("wardflux-lab: cut {d}:{p}");
            }
        }
        Cmd::Restore { state, what } => {
            let mut lab = Lab::open(&state.state)?;
            for (d, p) in links(&lab, &what)? {
                lab.restore(&d, &p)?;
                eprintln!("wardflux-lab: restored {d}:{p}");
            }
        }
        Cmd::Blackhole { state, what } => {
            let mut lab = Lab::open(&state.state)?;
            for (d, p) in links(&lab, &what)? {
                lab.blackhole(&d, &p)?;
                eprintln!("wardflux-lab: blackholed the provider behind {d}:{p} (link stays up)");
            }
        }
        Cmd::Unblackhole { state, what } => {
            let mut lab = Lab::open(&state.state)?;
            for (d, p) in links(&lab, &what)? {
                lab.unblackhole(&d, &p)?;
                eprintln!("wardflux-lab: the provider behind {d}:{p} answers again");
            }
        }
        Cmd::Power {
            state,
            state_to,
            device,
        } => {
            let mut lab = Lab::open(&state.state)?;
            if state_to == "off" {
                lab.power_off(&device)?;
            } else {
                lab.power_on(&device)?;
                // Agents started by this process keep running after it exits.
                lab.detach();
            }
            eprintln!("wardflux-lab: {device} powered {state_to}");
        }
        Cmd::Check { state } => {
            let lab = Lab::open(&state.state)?;
            lab.check()?;
            eprintln!("wardflux-lab: check passed: no lab packet leaves the machine");
        }
        Cmd::Show { state } => {
            let lab = Lab::open(&state.state)?;
            let p = lab.plan();
            println!(
                "lab {} in {} (state {})",
                p.name,
                p.prefix(),
                state.state.display()
            );
            for n in &p.nodes {
                println!(
                    "  {:<18} {:<9} {:<9} agent {:<16} netns {}",
                    n.node.name,
                    n.node.site,
                    format!("{:?}", n.node.kind).to_lowercase(),
                    n.loopback,
                    n.netns
                );
            }
            for a in &p.access {
                let mut extra = String::new();
                if let Some(b) = a.bgp {
                    extra.push_str(&format!(" bgp {}<->{}", b.asn, b.peer_asn));
                }
                if let Some(pr) = &a.probe {
                    extra.push_str(&format!(" probe {} {:?}", pr.index, pr.tag));
                }
                if lab
                    .blackholed()
                    .iter()
                    .any(|(d, q)| *d == a.node && *q == a.port)
                {
                    extra.push_str(" BLACKHOLED");
                }
                println!(
                    "  {:<28} {:<8} host {:<10} {} <-> {} metric {}{extra}",
                    format!("{}:{}", a.node, a.port),
                    a.provider.as_deref().unwrap_or("mgmt"),
                    a.host_if,
                    a.host_addr,
                    a.node_addr,
                    a.metric
                );
            }
            for c in &p.cables {
                println!(
                    "  cable {}:{} ({}) <-> {}:{} ({})",
                    c.a_node, c.a_port, c.a_addr, c.b_node, c.b_port, c.b_addr
                );
            }
        }
        Cmd::Targets { state, out } => {
            let lab = Lab::open(&state.state)?;
            let text = serde_yaml::to_string(&lab.targets())?;
            let text = format!(
                "# Written by wardflux-lab for lab {}: the exporter's auths and targets.\n{text}",
                lab.plan().name
            );
            match out {
                Some(path) => {
                    use std::io::Write;
                    use std::os::unix::fs::OpenOptionsExt;
                    std::fs::OpenOptions::new()
                        .create(true)
                        .write(true)
                        .truncate(true)
                        .mode(0o600)
                        .open(&path)
                        .and_then(|mut f| f.write_all(text.as_bytes()))
                        .with_context(|| format!("writing {}", path.display()))?;
                }
                None => print!("{text}"),
            }
        }
    }
    Ok(())
}
