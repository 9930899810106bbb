# Referral codes, attribution and rewards arrive with the referrals issue (see DESIGN.md).
