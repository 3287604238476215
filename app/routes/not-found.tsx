import { data } from "react-router";

// Any path no other route claims: a styled 404 through the root error boundary.
export function loader() {
  throw data("This page does not exist.", { status: 404 });
}

export function action() {
  throw data("This page does not exist.", { status: 404 });
}

export default function NotFound() {
  return null;
}
