// What the signed-in identity may do in the console (the APIs decide; this only hides what
// would be refused).

export function isAdmin(identity) {
  return Boolean(identity && identity.roles.some((role) => role === "tenant_admin" || role === "platform_admin"));
}

export function isPlatformAdmin(identity) {
  return Boolean(identity && identity.roles.includes("platform_admin"));
}
