// Account deletion (management.md §3.4, §6; D14). The route clears the cookie and flashes;
// everything else happens here.
import { errorDetails } from "./log.server";
import { revokeAtprotoSession } from "./login.server";
import type { Platform } from "./platform.server";
import type { Prisma } from "~/generated/prisma/client";
import { deleteWikis, writeTx, type Actor, type OpContext } from "./wikis.server";

export const ACCOUNT_MESSAGES = {
  mismatch: "Confirmation did not match.",
  failed: "Failed to delete account.",
} as const;

export type AccountFailure = { ok: false; status: 400 | 500; code: "confirmation_mismatch" | "server_error"; error: string };

/** The typed confirmation as compared with `users.handle`: trimmed, one leading `@` dropped, lowercased. */
export function normalizeHandleConfirmation(input: unknown): string {
  if (typeof input !== "string") return "";
  return input.trim().replace(/^@/, "").toLowerCase();
}

/**
 * Deletes the account (§6): revokes the ATProto session at the user's authorization server
 * (best effort) and deletes the stored session and consent nonces either way; then ONE
 * transaction removes the user's wikis (rows, `reindex_queue` rows, journaled tombstones)
 * and the user row; then the wiki directories go. If that transaction fails, the account and
 * its wikis are unchanged.
 */
export async function deleteAccount(
  platform: Platform,
  user: Actor,
  confirmation: unknown,
  ctx: OpContext = {},
): Promise<{ ok: true; deletedWikis: string[] } | AccountFailure> {
  if (normalizeHandleConfirmation(confirmation) !== user.handle.toLowerCase()) {
    return { ok: false, status: 400, code: "confirmation_mismatch", error: ACCOUNT_MESSAGES.mismatch };
  }
  const { db, log } = platform;

  // Step 1 (§6): revoke at the authorization server, best effort, and delete the stored
  // session either way (the login module's one rule, as at logout); then the consent nonces.
  // Both go again inside the transaction below, so a success never leaves them behind.
  const forgetSession = async (tx: Prisma.TransactionClient) => {
    await tx.atprotoOauthSession.deleteMany({ where: { key: user.did } });
    await tx.consentNonce.deleteMany({ where: { user_did: user.did } });
  };
  try {
    await revokeAtprotoSession(platform, user.did, ctx.reqId ?? "");
    await writeTx(platform, forgetSession);
  } catch (err) {
    log.error({ reqId: ctx.reqId, did: user.did, err: errorDetails(err) }, "account deletion: deleting the stored session failed");
  }

  try {
    const wikis = await db.wiki.findMany({ where: { owner_did: user.did } });
    await deleteWikis(platform, wikis, {
      ownerDid: user.did,
      reqId: ctx.reqId,
      async alsoInTransaction(tx) {
        await forgetSession(tx);
        await tx.user.delete({ where: { did: user.did } });
      },
    });
    log.info({ reqId: ctx.reqId, did: user.did, wikis: wikis.map((w) => w.slug) }, "account deleted");
    return { ok: true, deletedWikis: wikis.map((w) => w.slug) };
  } catch (err) {
    log.error({ reqId: ctx.reqId, did: user.did, err: errorDetails(err) }, "account deletion failed");
    return { ok: false, status: 500, code: "server_error", error: ACCOUNT_MESSAGES.failed };
  }
}
