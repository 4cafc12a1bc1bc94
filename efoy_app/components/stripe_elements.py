"""Stripe's Payment Element as a Reflex component, for `Pay by card` with real Stripe keys.

Card details go from the browser straight to Stripe (Stripe.js); Efoy only sees the PaymentIntent
afterwards. The page includes this component only when a publishable key is configured and
`STRIPE_API_BASE` is unset (real Stripe), so the npm packages are fetched only then. Against the
sandbox, its own card page stands in and this is never compiled.
"""

from __future__ import annotations

import reflex as rx

REACT_STRIPE = "@stripe/react-stripe-js@7.0.1"
STRIPE_JS = "@stripe/stripe-js@10.2.1"

FORM_JS = """
const efoyStripePromises = {};

function EfoyStripePayButton({ returnUrl }) {
  const stripe = useStripe();
  const elements = useElements();
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    if (!stripe || !elements || busy) return;
    setBusy(true);
    setError("");
    const confirmParams = { return_url: returnUrl };
    const result = await stripe.confirmPayment({ elements, confirmParams });
    if (result.error) {
      setError(result.error.message || "The payment did not go through.");
      setBusy(false);
    }
  };
  return createElement(
    "form",
    { onSubmit: submit, "aria-label": "Card payment" },
    createElement(PaymentElement, {}),
    createElement(
      "button",
      { type: "submit", disabled: !stripe || busy, className: "efoy-stripe-pay" },
      busy ? "Processing…" : "Pay"
    ),
    error ? createElement("p", { role: "alert", className: "efoy-stripe-error" }, error) : null
  );
}

function EfoyStripeCardForm({ publishableKey, clientSecret, returnUrl }) {
  if (!publishableKey || !clientSecret) return null;
  if (!efoyStripePromises[publishableKey]) {
    efoyStripePromises[publishableKey] = loadStripe(publishableKey);
  }
  return createElement(
    Elements,
    { stripe: efoyStripePromises[publishableKey], options: { clientSecret } },
    createElement(EfoyStripePayButton, { returnUrl })
  );
}
"""


class StripeCardForm(rx.Component):
    """`<EfoyStripeCardForm publishableKey clientSecret returnUrl />`, defined in FORM_JS."""

    tag = "EfoyStripeCardForm"

    publishable_key: rx.Var[str]
    client_secret: rx.Var[str]
    return_url: rx.Var[str]

    def add_imports(self) -> dict[str, list[str]]:
        return {
            REACT_STRIPE: ["Elements", "PaymentElement", "useStripe", "useElements"],
            STRIPE_JS: ["loadStripe"],
            "react": ["createElement", "useState"],
        }

    def add_custom_code(self) -> list[str]:
        return [FORM_JS]


stripe_card_form = StripeCardForm.create
