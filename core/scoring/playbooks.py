"""The default playbook for each to-do kind: what a good CSM does, step by step.

The store seeds its editable library from this dict and never overwrites a
playbook a team has edited, so these are starting points, not rules.
"""

from __future__ import annotations

DEFAULT_PLAYBOOKS: dict[str, dict] = {
    "renewal-call": {
        "title": "Renewal call",
        "steps": [
            "Review the account brief: ARR, products, usage trend, open tickets and the risk reasons.",
            "Confirm who signs the renewal and who influences it; add missing contacts to the CRM.",
            "Book a 30-minute call with the decision maker and the champion, well before the renewal date.",
            "Open with the value delivered: usage figures, outcomes, tickets solved since the last renewal.",
            "Ask about plans for the next year: team size, new projects, budget timing, competitors evaluated.",
            "Agree next steps and dates in writing; log the call and set a follow-up to-do.",
        ],
    },
    "usage-recovery": {
        "title": "Usage recovery",
        "steps": [
            "Find where usage dropped: which product, which team, since which month.",
            "Ask the champion what changed (people left, a project ended, a workflow moved elsewhere).",
            "Offer a short re-onboarding session or training for the teams that stopped using it.",
            "Agree one measurable usage goal for the next 30 days and who owns it on their side.",
            "Check the usage again after 30 days and report the change to the customer.",
        ],
    },
    "executive-sponsor": {
        "title": "Bring in an executive sponsor",
        "steps": [
            "Summarise the negative tickets and NPS comments: what failed, how often, what is still open.",
            "Brief an executive on your side with the facts, the ARR at stake and the renewal date.",
            "Arrange an executive-to-executive call to acknowledge the issues and commit to a fix plan.",
            "Send a written recovery plan with owners and dates within two days of the call.",
            "Review progress weekly with the customer until the open issues are closed.",
        ],
    },
    "add-decision-maker": {
        "title": "Find the decision maker",
        "steps": [
            "Ask the champion who approves budget for this product and who signs the renewal.",
            "Look up the buying department's head and their title; add them to the CRM as decision maker.",
            "Ask the champion for a warm introduction, with a one-line reason for the meeting.",
            "Meet the decision maker: share results achieved and ask what success looks like for them.",
        ],
    },
    "qbr": {
        "title": "Quarterly business review",
        "steps": [
            "Prepare the review: usage trends, seats used, tickets, goals agreed last time.",
            "Invite the champion and the decision maker; send an agenda in advance.",
            "Review outcomes against their goals; show one quick win and one gap.",
            "Agree goals for the next quarter and who owns each one.",
            "Send the summary and next steps within a day; book the next review.",
        ],
    },
    "seat-upsell": {
        "title": "Seat upsell",
        "steps": [
            "Check the seat usage: active users against licensed seats, and how fast it grew.",
            "Check the team's growth (headcount, new departments) to size the extra seats.",
            "Tell the champion their seats are nearly full before users get locked out.",
            "Propose the extra seats with the price per seat and a co-termed end date.",
            "Send the order form; follow up in a week.",
        ],
    },
    "cross-sell": {
        "title": "Cross-sell",
        "steps": [
            "Read the suggestion's reason: which accounts like this one own the product and why it fits.",
            "Identify the department that would use it and whether we have a contact there.",
            "Ask the champion for an introduction to that department's decision maker.",
            "Run a short discovery call on their problem, then a demo focused on it.",
            "Send a proposal with a trial or an introductory price; record the outcome when decided.",
        ],
    },
    "bundle-offer": {
        "title": "Bundle offer",
        "steps": [
            "Compare the bundle price with what the account pays today for its products a la carte.",
            "Show the champion what the added products do for the teams that already use the others.",
            "Offer the bundle at renewal or co-termed, with the saving stated in currency.",
            "Send the proposal to the decision maker; record the outcome when decided.",
        ],
    },
}
