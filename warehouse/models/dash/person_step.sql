-- description: One row per move between the stages a person reached, in the ladder's order (so the Sankey has no loops); the last stage moves on to dropped_out, ongoing or ended (work is an end in itself) (serving table for Forløp).
-- unique: person_id, source
-- not_null: person_id, source, target
-- grain: person
with ordered as (
    select *, lead(stage) over (partition by person_id order by rank) as next_stage
    from dash.person_stage
),

final as (
    select
        person_id, stage as source,
        coalesce(next_stage, case
            when stage = 'work' then null
            when last_end_type = 'dropped_out' then 'dropped_out'
            when last_end_type = 'ongoing' then 'ongoing'
            else 'ended'
        end) as target,
        * exclude (person_id, stage, next_stage, first_start, last_end_type, rank, days_from_settlement)
    from ordered
)

select * from final
where target is not null
