/** On-premises and colocation host components: `onprem.Host`. */
export * from "./host";
