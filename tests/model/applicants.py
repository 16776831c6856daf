"""Two literal German Credit applicants shared by the model tests: a clearly safe one and a
clearly risky one (every attribute at its riskiest observed level)."""

SAFE = {
    "duration_in_month": 6,
    "credit_amount": 1000,
    "installment_rate_in_percentage_of_disposable_income": 1,
    "present_residence_since": 4,
    "age_in_years": 45,
    "number_of_existing_credits_at_this_bank": 1,
    "number_of_people_being_liable_to_provide_maintenance_for": 1,
    "status_of_existing_checking_account": "no checking account",
    "credit_history": "critical account/ other credits existing (not at this bank)",
    "purpose": "car (used)",
    "savings_account_and_bonds": "... >= 1000 DM",
    "present_employment_since": "4 <= ... < 7 years",
    "other_debtors_or_guarantors": "guarantor",
    "property": "real estate",
    "other_installment_plans": "none",
    "housing": "own",
    "job": "skilled employee / official",
    "telephone": "yes, registered under the customers name",
}
RISKY = SAFE | {
    "duration_in_month": 60,
    "credit_amount": 15000,
    "installment_rate_in_percentage_of_disposable_income": 4,
    "status_of_existing_checking_account": "... < 0 DM",
    "credit_history": "no credits taken/ all credits paid back duly",
    "purpose": "education",
    "savings_account_and_bonds": "... < 100 DM",
    "present_employment_since": "... < 1 year",
    "other_debtors_or_guarantors": "co-applicant",
    "property": "unknown / no property",
    "other_installment_plans": "bank",
    "housing": "for free",
}
