import { data, Form, redirect } from "react-router";
import { AppErrorBoundary, pageTitle, FormError, RowTable, SubmitButton } from "~/components/app";
import { deleteAccount } from "~/server/accounts.server";
import { clearPlatformCookie } from "~/server/cookies.server";
import { flashCookie } from "~/server/flash.server";
import { forwardErrorHeaders, readForm, pageUser } from "~/server/guards.server";
import { parseIso } from "~/server/time.server";
import type { Route } from "./+types/account";

export const meta: Route.MetaFunction = ({ error }) => pageTitle("Account", error);
export const headers = forwardErrorHeaders;
export const ErrorBoundary = AppErrorBoundary;

export async function loader(args: Route.LoaderArgs) {
  const user = await pageUser(args);
  return {
    handle: user.handle,
    display_name: user.display_name,
    did: user.did,
    memberSince: parseIso(user.created_at) ? user.created_at.slice(0, 10) : "Unknown",
  };
}

// POST /app/account intent=delete (rate limit `account_delete` in the pipeline; D14).
export async function action(args: Route.ActionArgs) {
  const { request, context } = args;
  const user = await pageUser(args);
  const form = await readForm(request);
  if (form.get("intent") !== "delete") return data({ error: "Unknown action." }, { status: 400 });
  const result = await deleteAccount(context.platform, user, form.get("confirm_handle"), { reqId: context.reqId });
  if (!result.ok) return data({ error: result.error }, { status: result.status });
  const headers = new Headers();
  // Cleared with the same Domain and Path it was set with (contracts.md §1).
  headers.append("Set-Cookie", clearPlatformCookie(context.platform.cookies));
  headers.append("Set-Cookie", flashCookie(context.platform, { category: "success", message: "Account deleted." }));
  return redirect("/", { headers });
}

export default function Account({ loaderData, actionData }: Route.ComponentProps) {
  const { handle, display_name, did, memberSince } = loaderData;
  const error = actionData?.error;
  return (
    <>
      <h1>Account</h1>
      <section className="card" aria-labelledby="card-profile">
        <h2 id="card-profile">Profile</h2>
        <RowTable
          rows={[
            ["Bluesky handle", handle],
            ["Display name", display_name ?? handle],
            ["DID", <code>{did}</code>],
            ["Member since", memberSince],
          ]}
        />
        <p className="hint">Your handle and display name follow Bluesky and are refreshed when you sign in.</p>
      </section>
      <details className="card danger-zone" open={error ? true : undefined}>
        <summary>Delete account</summary>
        <p>This will delete your account and all associated wikis. This cannot be undone.</p>
        <FormError message={error} id="account-delete-error" />
        <Form method="post">
          <input type="hidden" name="intent" value="delete" />
          <div className="field">
            <label htmlFor="confirm_handle">
              Type <strong>{handle}</strong> to confirm:
            </label>
            <input
              id="confirm_handle"
              name="confirm_handle"
              type="text"
              required
              autoComplete="off"
              spellCheck={false}
              aria-invalid={error ? true : undefined}
              aria-errormessage={error ? "account-delete-error" : undefined}
            />
          </div>
          <SubmitButton intent="delete" pendingText="Deleting…" className="danger">
            Permanently delete my account
          </SubmitButton>
        </Form>
      </details>
    </>
  );
}
