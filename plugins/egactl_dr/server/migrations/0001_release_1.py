"""dr's first release: systems, drills and check history.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None
egactl_schema_version = 1  # what the releases before Alembic recorded for this schema


def upgrade() -> None:
    op.create_table('dr_check_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('request_id', sa.String(length=80), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('deadline_exceeded', sa.Boolean(), nullable=False),
    sa.Column('systems', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_dr_check_runs_at'), 'dr_check_runs', ['at'], unique=False)
    op.create_table('dr_systems',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('criticality', sa.String(length=16), nullable=False),
    sa.Column('hosting', sa.String(length=80), nullable=False),
    sa.Column('dr_hosting', sa.String(length=80), nullable=True),
    sa.Column('primary_endpoint', sa.String(length=500), nullable=False),
    sa.Column('dr_endpoint', sa.String(length=500), nullable=True),
    sa.Column('version_from', sa.String(length=120), nullable=True),
    sa.Column('replicated_from', sa.String(length=120), nullable=True),
    sa.Column('backup_from', sa.String(length=120), nullable=True),
    sa.Column('backup_url', sa.String(length=500), nullable=True),
    sa.Column('rpo_minutes', sa.Float(), nullable=False),
    sa.Column('rto_minutes', sa.Float(), nullable=False),
    sa.Column('thresholds', sa.JSON(), nullable=False),
    sa.Column('ca_bundle', sa.Text(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('last_drill_passed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_check_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_check_status', sa.String(length=16), nullable=True),
    sa.Column('last_check_problems', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("criticality IN ('low', 'medium', 'high', 'critical')", name='ck_dr_systems_criticality'),
    sa.CheckConstraint('rpo_minutes > 0 AND rto_minutes > 0', name='ck_dr_systems_targets'),
    sa.ForeignKeyConstraint(['institution'], ['core_institutions.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('institution', 'name', name='uq_dr_systems_institution_name')
    )
    op.create_index(op.f('ix_dr_systems_institution'), 'dr_systems', ['institution'], unique=False)
    op.create_table('dr_check_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('system_id', sa.Integer(), nullable=False),
    sa.Column('institution', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('checks', sa.JSON(), nullable=False),
    sa.CheckConstraint("status IN ('OK', 'WARNING', 'CRITICAL', 'UNKNOWN')", name='ck_dr_check_results_status'),
    sa.ForeignKeyConstraint(['run_id'], ['dr_check_runs.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['system_id'], ['dr_systems.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_dr_check_results_at'), 'dr_check_results', ['at'], unique=False)
    op.create_index(op.f('ix_dr_check_results_institution'), 'dr_check_results', ['institution'], unique=False)
    op.create_index(op.f('ix_dr_check_results_run_id'), 'dr_check_results', ['run_id'], unique=False)
    op.create_index('ix_dr_check_results_system', 'dr_check_results', ['system_id', 'id'], unique=False)
    op.create_table('dr_drills',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('system_id', sa.Integer(), nullable=False),
    sa.Column('institution', sa.String(length=32), nullable=False),
    sa.Column('system_name', sa.String(length=64), nullable=False),
    sa.Column('result', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('restored_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('measured_rto_minutes', sa.Float(), nullable=True),
    sa.Column('data_loss_minutes', sa.Float(), nullable=True),
    sa.Column('rto_target_minutes', sa.Float(), nullable=False),
    sa.Column('rpo_target_minutes', sa.Float(), nullable=False),
    sa.Column('failure_reasons', sa.JSON(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('started_by', sa.String(length=200), nullable=False),
    sa.Column('finished_by', sa.String(length=200), nullable=True),
    sa.CheckConstraint("result IN ('running', 'passed', 'failed')", name='ck_dr_drills_result'),
    sa.ForeignKeyConstraint(['system_id'], ['dr_systems.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_dr_drills_institution'), 'dr_drills', ['institution'], unique=False)
    op.create_index(op.f('ix_dr_drills_system_id'), 'dr_drills', ['system_id'], unique=False)
    op.create_index('uq_dr_drills_running', 'dr_drills', ['system_id'], unique=True, sqlite_where=sa.text("result = 'running'"), postgresql_where=sa.text("result = 'running'"))


def downgrade() -> None:
    op.drop_index('uq_dr_drills_running', table_name='dr_drills', sqlite_where=sa.text("result = 'running'"), postgresql_where=sa.text("result = 'running'"))
    op.drop_index(op.f('ix_dr_drills_system_id'), table_name='dr_drills')
    op.drop_index(op.f('ix_dr_drills_institution'), table_name='dr_drills')
    op.drop_table('dr_drills')
    op.drop_index('ix_dr_check_results_system', table_name='dr_check_results')
    op.drop_index(op.f('ix_dr_check_results_run_id'), table_name='dr_check_results')
    op.drop_index(op.f('ix_dr_check_results_institution'), table_name='dr_check_results')
    op.drop_index(op.f('ix_dr_check_results_at'), table_name='dr_check_results')
    op.drop_table('dr_check_results')
    op.drop_index(op.f('ix_dr_systems_institution'), table_name='dr_systems')
    op.drop_table('dr_systems')
    op.drop_index(op.f('ix_dr_check_runs_at'), table_name='dr_check_runs')
    op.drop_table('dr_check_runs')
