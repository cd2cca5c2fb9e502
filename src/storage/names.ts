/**
 * Names as Fluvio accepts them for its resources (topics, SmartModules): lowercase letters,
 * digits and '-', not starting or ending with '-', at most 63 characters.
 */
export const RESOURCE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** What RESOURCE_NAME means, for error messages. */
export const RESOURCE_NAME_RULE =
  "lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";

/**
 * A Hub package name, `group/name@version`: group and name are resource names, the version is
 * read leniently as the Hub does (`1`, `1.2`, `1.2.3`, with an optional `-pre` / `+build`).
 */
const HUB_VERSION = /^\d+(\.\d+){0,2}(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

/** True for a name a SmartModule may be registered under: a resource name or a Hub package name. */
export function isModuleName(name: string): boolean {
  if (RESOURCE_NAME.test(name)) return true;
  const slash = name.indexOf('/');
  const at = name.lastIndexOf('@');
  if (slash <= 0 || at < slash) return false;
  const group = name.slice(0, slash);
  const pkg = name.slice(slash + 1, at);
  const version = name.slice(at + 1);
  return RESOURCE_NAME.test(group) && RESOURCE_NAME.test(pkg) && HUB_VERSION.test(version);
}
