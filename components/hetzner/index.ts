/** Hetzner host components: `hetzner.DedicatedServer`, `hetzner.CpuServer`, `hetzner.PrivateNetwork`. */
export * from "./cpuServer";
export * from "./dedicatedServer";
export * from "./privateNetwork";
export { RobotServer, RobotVswitch, robotFirewallRules } from "./robotProvider";
